"""Records know the code that made them: a resume never mixes records of other code
silently, --recompute and --accept-old-records are the two ways on, and extending a sweep
computes only its new datasets, with the values a fresh run gives."""

import json

import pytest

from jaxmem import cli, provenance
from jaxmem.store import Store
from jaxmem.sweep import OtherCodeError, parse_grid, run_sweep

SPEC = dict(name="prov", construction="zhang2017", datasets=6, chunk_size=4,
            axes=dict(n=[5, 9], d=2))


@pytest.fixture
def store(tmp_path):
    with Store(str(tmp_path / "s.sqlite")) as s:
        yield s


def _values(store, run):
    return {(r["n"], r["dataset_index"]): (r["ok"], r["max_abs_error"], r["min_gap"])
            for r in store.records(run)}


def _other_code(monkeypatch, fingerprint="f" * 64):
    """As if jaxmem's sources had been edited since the stored records were computed."""
    monkeypatch.setattr(provenance, "_package_digest", lambda: fingerprint)


def test_runs_record_their_code(store):
    stats = run_sweep(parse_grid(SPEC), store, progress=False)
    run = store.run(stats.run_id)
    assert run["code_fingerprint"] == provenance.code_fingerprint()
    assert run["jaxmem_version"] and run["accepted_code"] == []
    commit, dirty = provenance.git_state()
    assert run["git_commit"] == commit and run["git_dirty"] == dirty


def test_a_resume_under_other_code_stops_and_writes_nothing(store, monkeypatch):
    first = run_sweep(parse_grid(SPEC), store, progress=False)
    _other_code(monkeypatch)
    with pytest.raises(OtherCodeError) as err:
        run_sweep(parse_grid(SPEC), store, progress=False)
    message = str(err.value)
    assert provenance.short(store.run(first.run_id)["code_fingerprint"]) in message
    assert "ffffffffffff" in message and "12 records" in message
    assert "--recompute" in message and "--accept-old-records" in message
    assert [r["run_id"] for r in store.runs()] == [first.run_id]


def test_recompute_keeps_the_old_run_readable(store, monkeypatch):
    first = run_sweep(parse_grid(SPEC), store, progress=False)
    old = _values(store, first.run_id)
    _other_code(monkeypatch)
    again = run_sweep(parse_grid(SPEC), store, progress=False, other_code="recompute")
    assert (again.computed, again.skipped, again.written) == (12, 0, 12)
    assert _values(store, first.run_id) == old                   # untouched
    new = store.records(again.run_id)
    assert {r["code"] for r in new} == {"f" * 64}
    assert _values(store, again.run_id) == old                   # same datasets, same code path
    # a second --recompute under the same code resumes its own records
    third = run_sweep(parse_grid(SPEC), store, progress=False, other_code="recompute")
    assert (third.computed, third.skipped) == (0, 12)


def test_accepting_old_records_is_recorded_on_the_run(store, monkeypatch):
    first = run_sweep(parse_grid(SPEC), store, progress=False)
    fingerprint = store.run(first.run_id)["code_fingerprint"]
    _other_code(monkeypatch)
    accepted = run_sweep(parse_grid(SPEC), store, progress=False, other_code="accept")
    assert (accepted.computed, accepted.skipped) == (0, 12)
    assert store.run(accepted.run_id)["accepted_code"] == [fingerprint]


def test_records_of_unknown_code_are_other_code(store):
    """Records written by a run that did not record its code (a store from before this)."""
    run = store.begin_run(sweep="old", kind="sweep", grid=None, environment={})
    config = parse_grid(SPEC).configs()[0]
    from jaxmem.sweep import canonical_json, config_hash
    store.add_configs(run, [(config_hash(config), canonical_json(config), 6)])
    store.write_records(run, config_hash(config), [0], [dict(ok=True)])
    with pytest.raises(OtherCodeError, match=r"unknown \(1 records\)"):
        run_sweep(parse_grid(SPEC), store, progress=False)


def test_extending_computes_only_the_new_datasets_with_a_fresh_runs_values(tmp_path):
    """6 datasets in blocks of 4, extended to 11: the partly stored block [4, 8) computes
    only 6 and 7; every record equals the one an uninterrupted 11-dataset run stores."""
    with Store(str(tmp_path / "a.sqlite")) as a, Store(str(tmp_path / "b.sqlite")) as b:
        run_sweep(parse_grid(SPEC), a, progress=False)
        extended = run_sweep(parse_grid(dict(SPEC, datasets=11)), a, progress=False)
        assert (extended.computed, extended.skipped, extended.written) == (10, 12, 10)
        fresh = run_sweep(parse_grid(dict(SPEC, datasets=11)), b, progress=False)
        got, want = _values(a, extended.run_id), _values(b, fresh.run_id)
        assert len(got) == 22 and got == want


@pytest.mark.slow
def test_cli_names_both_ways_on(tmp_path, monkeypatch, capsys):
    grid = tmp_path / "g.toml"
    grid.write_text('name = "prov"\nconstruction = "zhang2017"\ndatasets = 3\n'
                    '[axes]\nn = [4]\nd = [2]\n')
    store = str(tmp_path / "s.sqlite")
    assert cli.main(["sweep", str(grid), "--store", store, "--no-progress"]) == 0
    capsys.readouterr()
    _other_code(monkeypatch)
    assert cli.main(["sweep", str(grid), "--store", store, "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--recompute" in err[0] and "--accept-old-records" in err[0]
    assert cli.main(["sweep", str(grid), "--store", store, "--no-progress", "--json",
                     "--accept-old-records"]) == 0
    assert json.loads(capsys.readouterr().out)["skipped"] == 3
    with pytest.raises(SystemExit):
        cli.main(["sweep", str(grid), "--store", store, "--recompute", "--accept-old-records"])


def _experiment(store, values, name="exp"):
    """An experiment's own records, written as the experiments write them: a host job through
    jaxmem.experiment.run_experiment. (run id, datasets computed)."""
    import numpy as np

    from jaxmem.experiment import run_experiment
    from jaxmem.sweep.runner import Job, root_key_data
    config = dict(experiment=name, n=3)
    job = Job(config=config, datasets=len(values), root=root_key_data(0, config),
              trial=lambda keys, indices: dict(value=np.asarray(values)[indices]),
              program=("test.experiment", tuple(values)), host=True, block=True,
              chunk_size=len(values))
    stats = run_experiment(store, name, dict(n=3), [job], progress=False)
    return stats.run_id, stats.computed


def test_experiments_own_records_follow_the_same_rule(store, monkeypatch):
    from jaxmem.store.code import CodeAwareStore

    def aware(mode):
        return CodeAwareStore(store, provenance.provenance(("jaxmem.experiments._records",)), mode)

    first, computed = _experiment(aware("stop"), [1.0, 2.0, 3.0])
    assert computed == 3 and store.run(first)["code_fingerprint"] is not None
    assert _experiment(aware("stop"), [1.0, 2.0, 3.0])[1] == 0         # same code: resumes
    _other_code(monkeypatch)
    with pytest.raises(OtherCodeError, match="--recompute"):
        _experiment(aware("stop"), [9.0, 9.0, 9.0])
    assert store.runs()[-1]["status"] == "failed"                      # said so, wrote nothing
    accepted, computed = _experiment(aware("accept"), [9.0, 9.0, 9.0])
    assert computed == 0 and store.run(accepted)["accepted_code"]
    again, computed = _experiment(aware("recompute"), [9.0, 9.0, 9.0])
    assert computed == 3
    assert [r["value"] for r in store.records(again)] == [9.0, 9.0, 9.0]
    assert [r["value"] for r in store.records(first)] == [1.0, 2.0, 3.0]
