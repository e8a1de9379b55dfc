"""One engine (jaxmem.sweep.runner.run_jobs) under claims, sweeps and experiments: a claim's
per-dataset records go to the store with the code that made them, an interrupted claim
resumes with the verdict a fresh run gives, records of other code are never reused, and what
the store reads back is what was computed."""

import dataclasses
import json
import sqlite3

import jax
import numpy as np
import pytest

from jaxmem import claims as C
from jaxmem.store import Store, StoreError
from jaxmem.sweep import config_hash, expand


def mixed_trial(key, n, d):
    """Passes, fails or is undecided; a float metric and an int metric beside."""
    r = jax.random.uniform(key)
    return dict(ok=r >= 0.25, undecided=r < 0.1, value=r * n + d, level=(r * 10).astype(int))


def decide_some(key, n, d):
    """The exact step: decides the undecided datasets, and reports a value only it has."""
    r = float(jax.random.uniform(key))
    return dict(ok=r >= 0.05, undecided=False, exact_margin=r)


def _claim(**more):
    grid = expand(datasets=37, n=[3, 4], d=[1])
    return C.Claim(id="engine.mixed", citation="test", statement="test", trial=mixed_trial,
                   grids=dict(quick=grid, full=grid), rule=C.Probabilistic(p=0.5), **more)


def _same(res):
    """A result without what differs between a fresh and a resumed run."""
    out = res.to_json()
    out.pop("seconds"), out.pop("n_resumed")
    return json.dumps(out, sort_keys=True, default=str)  # NaN == NaN as text


def test_a_claims_records_go_to_the_store_with_the_code_that_made_them(tmp_path):
    claim = _claim(exact=decide_some)
    with Store(tmp_path / "s.sqlite") as store:
        res = C.run_claim(claim, chunk_size=8, store=store)
        run = store.runs()[-1]
        records = store.records(run["run_id"])
        verdicts = store.verdicts(run["run_id"])
    fingerprint = C.claim_provenance([claim])["code_fingerprint"]
    assert run["kind"] == "verify" and run["code_fingerprint"] == fingerprint
    assert len(records) == res.n_datasets == 74
    assert {(r["claim"], r["seed"], r["chunk_size"], r["code"]) for r in records} == {
        ("engine.mixed", 0, 8, fingerprint)}
    # Per-dataset evidence: passes, undecided and re-decisions add up to the verdict's.
    passed = sum(bool(r["ok"]) and not r["undecided"] for r in records)
    assert passed == res.n_passed and sum(r["undecided"] for r in records) == res.n_undecided
    assert sum(r["redecided"] for r in records) == res.n_redecided > 0
    assert [v["verdict"] for v in verdicts] == [res.verdict]


def test_an_interrupted_claim_resumes_with_the_verdict_of_a_fresh_run(tmp_path):
    claim = _claim(exact=decide_some)
    fresh = C.run_claim(claim, chunk_size=8)                       # no store at all
    path = tmp_path / "s.sqlite"
    with Store(path) as store:
        first = C.run_claim(claim, chunk_size=8, store=store)
        hashes = [c["config_hash"] for c in store.configs(store.runs()[-1]["run_id"])]
        computed = [store.columns(h, 0, 37) for h in hashes]
    with sqlite3.connect(path) as con:                             # a kill loses blocks
        con.execute("DELETE FROM records WHERE dataset_index >= 16")
    with Store(path) as store:
        resumed = C.run_claim(claim, chunk_size=8, store=store)
        again = [store.columns(h, 0, 37) for h in hashes]
        whole = C.run_claim(claim, chunk_size=8, store=store)
    assert first.n_resumed == 0 and resumed.n_resumed == 2 * 16 and whole.n_resumed == 74
    assert _same(first) == _same(fresh) == _same(resumed) == _same(whole)
    for a, b in zip(computed, again):                              # bit for bit
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])


def test_records_of_other_code_or_another_chunk_size_are_never_reused(tmp_path):
    claim = _claim()
    # Blocks of 8, as the other tests here run the claim: their compiled programs serve the
    # first three runs (only chunk_size=5 compiles programs of its own).
    with Store(tmp_path / "s.sqlite") as store:
        assert C.run_claim(claim, chunk_size=8, store=store, fingerprint="a").n_resumed == 0
        assert C.run_claim(claim, chunk_size=8, store=store, fingerprint="b").n_resumed == 0
        assert C.run_claim(claim, chunk_size=8, store=store, fingerprint="a").n_resumed == 74
        assert C.run_claim(claim, store=store, fingerprint="a", chunk_size=5).n_resumed == 0


def test_a_broken_claim_is_caught_on_the_engine_and_its_counterexample_rebuilds():
    """The same rule flips when the claim is broken on purpose (p raised above the rate),
    and --reproduce's block recomputation gives the run's values."""
    claim = _claim()
    assert C.run_claim(claim, chunk_size=8).verdict == "HOLDS"
    broken = dataclasses.replace(claim, rule=C.Probabilistic(p=0.97))
    res = C.run_claim(broken, chunk_size=8)
    assert res.verdict == "VIOLATED"
    outs = C.run_config(claim, claim.configs("quick")[1], 0, chunk_size=8)
    for index in (0, 9, 36):
        again = C.reproduce(claim, 37 + index, chunk_size=8)
        assert again["metrics"]["value"] == outs["value"][index]


def test_store_columns_read_back_what_was_written(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        run = store.begin_run(sweep="t", kind="sweep", grid={}, environment={})
        h = config_hash({"c": 1})
        store.add_configs(run, [(h, '{"c":1}', 5)])
        store.write_columns(run, h, np.arange(3), dict(
            flag=np.array([True, False, True]), count=np.array([1, 2, 3]),
            x=np.array([0.5, np.nan, 2.0])))
        store.write_columns(run, h, np.array([3]), dict(x=np.array([1.5])))
        cols = store.columns(h, 0, 4)
        np.testing.assert_array_equal(cols["flag"], [True, False, True, False])
        np.testing.assert_array_equal(cols["count"], [1, 2, 3, np.nan])
        np.testing.assert_array_equal(cols["x"], [0.5, np.nan, 2.0, 1.5])
        assert cols["flag"].dtype == bool and store.columns(h, 0, 3)["count"].dtype == np.int64
        with pytest.raises(StoreError, match="has 4 of its 5 records"):
            store.columns(h, 0, 5)


def _uniform_block(keys, indices):
    """An experiment's batched host computation: one value per dataset of the block."""
    return dict(u=np.asarray(jax.vmap(jax.random.uniform)(keys)), index=indices)


def test_an_experiments_jobs_resume_and_know_their_code_however_it_is_run(tmp_path):
    from jaxmem import provenance
    from jaxmem.experiment import run_experiment
    from jaxmem.store.code import CodeAwareStore, OtherCodeError
    from jaxmem.sweep import dataset_keys
    from jaxmem.sweep.runner import Job, root_key_data

    config = dict(experiment="engine.test", x=1)

    def job():
        return Job(config=config, datasets=10, root=root_key_data(0, config),
                   trial=_uniform_block, program=("engine.test",), host=True, block=True,
                   chunk_size=4)

    with Store(tmp_path / "s.sqlite") as store:
        stats = run_experiment(store, "engine.test", {}, [job()])
        run = store.runs()[-1]
        values = store.columns(config_hash(config), 0, 10)
        again = run_experiment(store, "engine.test", {}, [job()])
        # The same data under other code is refused, and the run says it failed.
        with pytest.raises(OtherCodeError):
            run_experiment(CodeAwareStore(store, dict(code_fingerprint="other")),
                           "engine.test", {}, [job()])
        last = store.runs()[-1]
    assert (stats.computed, stats.skipped, again.computed, again.skipped) == (10, 0, 0, 10)
    assert run["kind"] == "experiment" and run["status"] == "done"
    assert run["code_fingerprint"] == provenance.provenance((__name__,))["code_fingerprint"]
    assert last["status"] == "failed"
    # The engine's keys are the datasets' keys: fold_in(fold_in(key(seed), id(config)), i).
    expected = jax.vmap(jax.random.uniform)(dataset_keys(0, config, np.arange(10)))
    np.testing.assert_array_equal(values["u"], np.asarray(expected))
    np.testing.assert_array_equal(values["index"], np.arange(10))


@pytest.mark.slow
def test_verify_reuses_a_claims_records_whichever_claims_ran_beside_it(tmp_path, capsys):
    """Records are keyed with the claim's own code: `--claim A` reads back what a run of A and
    B (claims of two modules) computed for A. A and B are two of the cheapest claims to
    compile and run (one tiny program each; A's check runs on the host)."""
    from jaxmem.cli import main

    a, b = "yu2024.lemma_f2", "genzel2023.separation_probability"
    assert C.CLAIMS.origin(a) != C.CLAIMS.origin(b)          # two modules, two codes
    store = str(tmp_path / "s.sqlite")
    assert main(["verify", "--claim", a, "--claim", b, "--store", store]) == 0
    assert "read back" not in capsys.readouterr().out
    assert main(["verify", "--claim", a, "--store", store]) == 0
    datasets = sum(c["datasets"] for c in C.get(a).configs("quick"))
    assert f"{datasets} datasets read back from the store (resumed)" in capsys.readouterr().out
