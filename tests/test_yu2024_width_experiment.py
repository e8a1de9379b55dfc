"""Yu, Gao, Zhang, Miao (2024) Theorem 5.1 as an experiment (experiments/yu2024_width.py): the
quick pipeline end to end through `jaxmem reproduce` at a tiny size, its resume (a rerun trains
nothing), the CSV's ceiling and bound against jaxmem.metrics.width_ceiling, and the report's
ability to fail: a recorded accuracy above the ceiling's binomial allowance is a violation."""

import contextlib
import csv
import io

import numpy as np
import pytest

from jaxmem import experiment as experiments
from jaxmem.experiments import yu2024_width as yw
from jaxmem import cli
from jaxmem.metrics.width_ceiling import paper_width_bound, projection_accuracy_ceiling
from jaxmem.store import Store
from jaxmem.sweep.keys import canonical_json, config_hash

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MODULE = "jaxmem.experiments.yu2024_width"
# One group (n = 5, N = 64): widths 1 and 2, the wide control 8, 2 seeds, and M1.
TINY = dict(dimensions=((5, (1, 2)),), wide=8, hidden=8, train_sizes=(64,), seeds=2,
            steps=20, lr=1e-2, batch_size=32, n_test=400)
DATASETS = 3 * 2 + 1


def _register(mp):
    """The tiny scale in place of quick."""
    assert MODULE in {m.__name__ for m in experiments.all_experiments()}  # registered
    mp.setitem(yw.SCALES, "quick", TINY)


def _reproduce(store, out) -> tuple[int, str]:
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        rc = cli.main(["reproduce", yw.NAME, "--scale", "quick", "--store", str(store),
                       "--out", str(out), "--no-progress"])
    return rc, stdout.getvalue()


def _computed(stdout: str) -> tuple[int, int]:
    (line,) = [l for l in stdout.splitlines() if l.startswith(f"{yw.NAME}: ")]
    words = line.split()
    return int(words[1]), int(words[4])


def _read_csv(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny quick scale reproduced twice on one store; the second run may not train."""
    root = tmp_path_factory.mktemp("yu2024_width")
    store, out = root / "store.sqlite", root / "figures"
    with pytest.MonkeyPatch.context() as mp:
        _register(mp)
        first = _reproduce(store, out)
        csv_first = (out / f"{yw.NAME}.csv").read_text()

        def refuse(*args, **kwargs):
            raise AssertionError("a resumed run computed something")
        mp.setattr(yw, "train_networks", refuse)
        mp.setattr(yw, "measure_m1", refuse)
        second = _reproduce(store, out)
    with Store(store) as s:
        runs = [r for r in s.runs() if r["sweep"] == yw.NAME]
        records = s.records(runs[-1]["run_id"])
    return dict(first=first, second=second, out=out, runs=runs, records=records,
                csv_first=csv_first)


def test_registered_and_checks_sizes():
    with pytest.MonkeyPatch.context() as mp:
        _register(mp)
        assert experiments.get(yw.NAME) is yw
        assert yw.grids("quick") == [] and yw.grids("full") == []
    with pytest.raises(ValueError, match="quick"):
        yw.grids("huge")
    with pytest.raises(ValueError, match=r"\[1, n\)"):
        yw.check_size(dict(TINY, dimensions=((5, (1, 5)),)))
    with pytest.raises(ValueError, match="above every n"):
        yw.check_size(dict(TINY, wide=5))
    for scale in ("quick", "full"):   # the real scales are valid, and quick is small
        yw.check_size(yw.SCALES[scale])
    assert max(yw.SCALES["quick"]["train_sizes"]) <= 1024
    assert {n for n, _ in yw.SCALES["full"]["dimensions"]} == {5, 10, 30}


@pytest.mark.slow
def test_reproduce_end_to_end_and_resume(tiny):
    (rc1, out1), (rc2, out2) = tiny["first"], tiny["second"]
    assert rc1 == 0 and rc2 == 0
    assert _computed(out1) == (DATASETS, 0)
    assert _computed(out2) == (0, DATASETS)      # resume: nothing trained, nothing built
    runs = tiny["runs"]
    assert len(runs) == 2 and all(r["kind"] == "experiment" and r["status"] == "done"
                                  for r in runs)
    assert runs[-1]["n_configs"] == 4 and runs[-1]["n_records"] == DATASETS
    records = tiny["records"]
    assert sorted((r["kind"], r["dataset_index"]) for r in records) == sorted(
        [("narrow", i) for i in (0, 1)] * 2 + [("wide", 0), ("wide", 1), ("m1", 0)])
    assert all(r["run_id"] == runs[0]["run_id"] for r in records)   # written once, by run 1
    out = tiny["out"]
    for ext in ("png", "csv", "md"):
        assert (out / f"{yw.NAME}.{ext}").stat().st_size > 0
    assert (out / f"{yw.NAME}.png").read_bytes()[:8] == PNG_MAGIC
    assert (out / f"{yw.NAME}.csv").read_text() == tiny["csv_first"]   # from the store alone


def test_csv_matches_the_ceiling_and_the_records(tiny):
    rows = _read_csv(tiny["out"] / f"{yw.NAME}.csv")
    assert [(r["kind"], int(r["first_width"])) for r in rows][:3] == [
        ("narrow", 1), ("narrow", 2), ("wide", 8)]
    by_config = {}
    for r in tiny["records"]:
        by_config.setdefault((r["kind"], r.get("first_width")), []).append(r)
    for row in rows:
        n, kind = int(row["n"]), row["kind"]
        assert int(row["n"]) == 5 and int(row["n_train"]) == 64 and int(row["n_test"]) == 400
        if kind == "m1":
            assert float(row["ceiling"]) == 1.0
            assert int(row["first_width"]) > n and row["nn_accuracy"] != ""
            recs = by_config["m1", None]
        else:
            w = int(row["first_width"])
            assert float(row["ceiling"]) == pytest.approx(projection_accuracy_ceiling(n, w),
                                                          rel=1e-9)
            assert float(row["paper_bound"]) == pytest.approx(paper_width_bound(n, w), rel=1e-9)
            assert row["width_ok"] == "True" and int(row["seeds"]) == 2
            recs = by_config[kind, w]
        mean = np.mean([r["test_accuracy"] for r in recs])
        assert float(row["test_accuracy_mean"]) == pytest.approx(mean, rel=1e-9)
        assert int(row["violations"]) == 0          # the real trainer stays below the ceiling
    md = (tiny["out"] / f"{yw.NAME}.md").read_text()
    assert "**HOLDS**: 0 violation(s) among 4 narrow networks" in md
    assert "| 1 | 1,100 |" in md and "| 6 | 6,595 |" in md     # the paper's dimension


def _write_run(store, records_by_width: dict) -> int:
    """A yu2024_width run holding narrow configs (n = 5, N = 64) with the given test
    accuracies, one record per accuracy: what a tampered or broken trainer would record."""
    run_id = store.begin_run(sweep=yw.NAME, kind="experiment", grid=None, environment={})
    configs = [(w, yw.net_config(5, 64, w, yw.check_size(TINY))) for w in records_by_width]
    store.add_configs(run_id, [(config_hash(c), canonical_json(c), len(records_by_width[w]))
                               for w, c in configs])
    for w, c in configs:
        acc = np.asarray(records_by_width[w], np.float64)
        k = len(acc)
        store.write_columns(run_id, config_hash(c), np.arange(k), dict(
            test_accuracy=acc, test_correct=np.rint(acc * 400).astype(np.int64),
            train_accuracy=np.full(k, 1.0), train_correct=np.full(k, 64),
            final_loss=np.zeros(k), trained_first_width=np.full(k, w),
            bayes_test_accuracy=np.full(k, 0.6), seconds=np.zeros(k)))
    store.end_run(run_id)
    return run_id


def test_an_accuracy_above_the_ceiling_is_a_violation(tmp_path):
    """w = 1 at accuracy 1.0 (and the allowance's edge): the report must fail, not clip."""
    allowed = yw.allowed_accuracy(400, projection_accuracy_ceiling(5, 1))
    assert projection_accuracy_ceiling(5, 1) < allowed < 1
    with Store(tmp_path / "tampered.sqlite") as store:
        run_id = _write_run(store, {1: [1.0, allowed, 0.5], 2: [allowed - 0.1, 0.5]})
        paths = yw.render(store, {yw.NAME: run_id}, str(tmp_path / "out"))
    assert sorted(p.rsplit(".", 1)[1] for p in paths) == ["csv", "md", "png"]
    rows = {int(r["first_width"]): r for r in _read_csv(tmp_path / "out" / f"{yw.NAME}.csv")}
    assert int(rows[1]["violations"]) == 1     # 1.0 is; exactly the allowance is not
    assert int(rows[2]["violations"]) == 0
    assert float(rows[1]["max_excess"]) == pytest.approx(1.0 - projection_accuracy_ceiling(5, 1))
    md = (tmp_path / "out" / f"{yw.NAME}.md").read_text()
    assert "**VIOLATED**: 1 violation(s) among 5 narrow networks" in md

    with Store(tmp_path / "edge.sqlite") as store:   # one test point above the allowance
        run_id = _write_run(store, {1: [allowed + 1 / 400]})
        yw.render(store, {yw.NAME: run_id}, str(tmp_path / "edge"))
    (row,) = _read_csv(tmp_path / "edge" / f"{yw.NAME}.csv")
    assert int(row["violations"]) == 1


def test_render_without_records_says_so(tmp_path):
    with Store(tmp_path / "empty.sqlite") as store:
        with pytest.raises(ValueError, match="no yu2024_width records"):
            yw.render(store, {}, str(tmp_path / "out"))
