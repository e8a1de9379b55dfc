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
            steps=20, lr=1e-2, batch_size=32, n_test=400, narrow_padding="wide", radial=False,
            active_bias_below=0)
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
    with pytest.raises(ValueError, match="narrow_padding"):
        yw.check_size(dict(TINY, narrow_padding="none"))
    for below in (-1, 2.5, True):
        with pytest.raises(ValueError, match="active_bias_below must be an int >= 0"):
            yw.check_size(dict(TINY, active_bias_below=below))
    for scale in ("quick", "full", "paper"):   # the real scales are valid, and quick is small
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


@pytest.mark.slow   # the tiny fixture: the reproduce runs (~13 s) of the end-to-end test
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


def _write_run(store, records_by_width: dict, n: int = 5, train_accuracy=None,
               trained_width=None) -> int:
    """A yu2024_width run holding narrow configs (dimension n, N = 64) with the given test
    accuracies, one record per accuracy: what a tampered or broken trainer would record.
    train_accuracy / trained_width: {w: values per record} (default 1.0 / w)."""
    run_id = store.begin_run(sweep=yw.NAME, kind="experiment", grid=None, environment={})
    size = yw.check_size(dict(TINY, dimensions=((n, tuple(w for w in records_by_width
                                                          if w < n) or (1,)),), wide=n + 3))
    configs = [(w, yw.net_config(n, 64, w, size)) for w in records_by_width]
    store.add_configs(run_id, [(config_hash(c), canonical_json(c), len(records_by_width[w]))
                               for w, c in configs])
    for w, c in configs:
        acc = np.asarray(records_by_width[w], np.float64)
        k = len(acc)
        train = np.asarray((train_accuracy or {}).get(w, np.ones(k)), np.float64)
        store.write_columns(run_id, config_hash(c), np.arange(k), dict(
            test_accuracy=acc, test_correct=np.rint(acc * 400).astype(np.int64),
            train_accuracy=train, train_correct=np.rint(train * 64).astype(np.int64),
            final_loss=np.zeros(k),
            trained_first_width=np.asarray((trained_width or {}).get(w, np.full(k, w))),
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


@pytest.mark.slow
def test_at_the_papers_dimension_a_memorizing_network_above_051_is_a_violation(tmp_path):
    """n = 1100, w = 1 (the paper's 0.51 applies): a memorizing network at 0.60 violates the
    paper's statement; the same accuracy without memorization is not a memorization network
    (still a ceiling violation, not a paper violation); a "narrow" network whose trained first
    width is n is flagged; honest records at 0.50 hold."""
    n = yw.paper_min_dimension(1)
    assert n == 1100 and 3.0 ** (1 / n) < 1.001 <= 3.0 ** (1 / (n - 1))
    with Store(tmp_path / "honest.sqlite") as store:
        run_id = _write_run(store, {1: [0.50, 0.505], 2: [0.49]}, n=n)
        yw.render(store, {yw.NAME: run_id}, str(tmp_path / "honest"))
    md = (tmp_path / "honest" / f"{yw.NAME}.md").read_text()
    assert "## Where the bound bites" in md
    assert "**HOLDS**: 0 of 2 memorizing narrow networks above 0.51" in md   # w = 2: n < 2200
    rows = {int(r["first_width"]): r for r in _read_csv(tmp_path / "honest" / f"{yw.NAME}.csv")}
    assert rows[1]["paper_applies"] == "True" and rows[2]["paper_applies"] == "False"
    assert int(rows[1]["memorized"]) == 2
    assert float(rows[1]["test_accuracy_ci_low"]) < 0.5025 < float(rows[1]["test_accuracy_ci_high"])

    with Store(tmp_path / "broken.sqlite") as store:
        run_id = _write_run(store, {1: [0.60, 0.60, 0.50]}, n=n,
                            train_accuracy={1: [1.0, 0.9, 1.0]})
        yw.render(store, {yw.NAME: run_id}, str(tmp_path / "broken"))
    md = (tmp_path / "broken" / f"{yw.NAME}.md").read_text()
    assert "**VIOLATED**: 1 of 2 memorizing narrow networks above 0.51" in md
    assert "2 of 3 narrow networks memorized" in md and "are not evidence" in md
    (row,) = _read_csv(tmp_path / "broken" / f"{yw.NAME}.csv")
    assert int(row["paper_violations"]) == 1 and int(row["violations"]) == 2

    with Store(tmp_path / "wide.sqlite") as store:   # a "narrow" w = 1 that trained n units
        run_id = _write_run(store, {1: [0.50]}, n=n, trained_width={1: [n]})
        yw.render(store, {yw.NAME: run_id}, str(tmp_path / "wide"))
    md = (tmp_path / "wide" / f"{yw.NAME}.md").read_text()
    assert md.count("**VIOLATED**") == 1 and 'a "narrow" width >= n: 1' in md


@pytest.mark.slow
def test_radial_memorizer_is_the_dense_network_and_is_perfect_and_its_check_can_fail():
    """The constructed first-width >= n memorizer: its closed form is the dense ReLU network
    (n = 1, 3, 5), its sizes meet the proof's conditions, it classifies every sample with
    margin >= gap / 4; with knots 4x coarser the overestimate exceeds the margin and the
    measurement shows errors (the check is not vacuous)."""
    import jax
    from jaxmem.data.ball_annulus import ball_annulus, ball_annulus_radii
    # float64: tests/conftest.py enables x64
    for n in (1, 3, 5, 40, 1100):
        shape = yw.radial_shape(n)
        r1, r2, r3 = ball_annulus_radii(n)
        step, k = shape["knot_spacing"], shape["knots"]
        assert k * step >= r3 and n * step ** 2 / 4 <= (r2 ** 2 - r1 ** 2) / 2 * (1 + 1e-12)
        assert shape["first_width"] == 2 * k * n >= n
        if n > 40:
            continue
        X, y = ball_annulus(jax.random.key(n), 2000, n)
        if n <= 5:
            net = yw.radial_network(n)
            assert network_width(net) == shape["first_width"]
            f = np.asarray(yw.radial_scores(X, step, shape["threshold"], knots=k))
            np.testing.assert_allclose(np.asarray(net.apply(X)).reshape(-1), f,
                                       rtol=0, atol=1e-13)
        good = yw.measure_radial(n, (X, y), (X, y))
        assert good["test_accuracy"][0] == 1.0 and good["min_test_margin"][0] >= 1.0
        bad = yw.measure_radial(n, (X, y), (X, y), step_factor=4.0)
        assert bad["test_accuracy"][0] < 0.9 and bad["min_test_margin"][0] < 0


def test_radial_shape_rejects_bad_input():
    for n in (0, 2.5):
        with pytest.raises(ValueError, match="n"):
            yw.radial_shape(n)
    for factor in (0, -1.0, float("nan"), "2"):
        with pytest.raises(ValueError, match="step_factor must be a positive number"):
            yw.radial_shape(5, factor)


def network_width(net) -> int:
    return int(net.layers[0].weight.shape[1])


def test_paper_scale_is_where_the_bound_bites():
    size = yw.check_size(yw.SCALES["paper"])
    (n, widths), = size["dimensions"]
    assert n >= yw.paper_min_dimension(1) and 1 in widths and all(w < n for w in widths)
    # N <= n: a width-1 network can fit any labelling of points in general position
    assert max(size["train_sizes"]) <= n and size["radial"] and size["wide"] > n
    assert size["narrow_padding"] == "own"   # a width-1 network is not padded to the control
    assert yw.net_config(n, 1000, 1, size)["padded_first_width"] == 1
    assert yw.net_config(n, 1000, size["wide"], size)["padded_first_width"] == size["wide"]


@pytest.mark.slow
def test_own_padding_active_bias_and_the_radial_memorizer_run_end_to_end(tmp_path):
    """The paper scale's code paths at n = 5: width 1 trained unpadded with an active first
    bias (its config says so), the control padded to itself, the radial memorizer's record
    (perfect on the test sample, margin >= gap / 4), and the rendered rows."""
    # As many seeds as the tiny fixture trains networks (3 widths x 2 seeds, all padded to the
    # control): the control, padded to itself, then trains in that compiled program.
    seeds = (len(TINY["dimensions"][0][1]) + 1) * TINY["seeds"]
    size = dict(TINY, dimensions=((5, (1,)),), narrow_padding="own", radial=True,
                active_bias_below=2, seeds=seeds)
    with Store(tmp_path / "own.sqlite") as store:
        stats = yw.run(store, "quick", size=size, progress=False, stream=io.StringIO())
        records = store.records(stats.run_id)
        rows = yw.config_rows(records)
    configs = {r["kind"]: r for r in records}
    assert sorted(configs) == ["m1", "narrow", "radial", "wide"]
    assert len(records) == 2 * seeds + 2
    for r in records:
        if r["kind"] == "narrow":
            assert r["padded_first_width"] == 1 and r["first_bias"] == "active"
            assert int(r["trained_first_width"]) == 1
        if r["kind"] == "wide":
            assert r["padded_first_width"] == TINY["wide"] and "first_bias" not in r
    radial = next(r for r in rows if r["kind"] == "radial")
    assert radial["test_accuracy_mean"] == 1.0 and radial["memorized"] == 1
    assert radial["min_margin"] >= 1.0
    assert radial["first_width"] == yw.radial_shape(5)["first_width"]
