"""The information-plane experiment (experiments/information_plane.py; Shwartz-Ziv & Tishby
2017, Saxe et al. 2018): the data rule, the sorting estimator against
jaxmem.metrics.information, the tiny quick pipeline end to end through `jaxmem reproduce`
(records, a resume that trains nothing, render from the store alone) and the properties the
records must have (I(T;Y) <= H(Y), I(X;T) <= 12 bits, the first tanh layer near 12 bits at
initialization, the unbinned data processing inequality), and the report's checks failing on
records that break them."""

import contextlib
import csv
import io

import numpy as np
import pytest

from jaxmem import experiment as experiments
from jaxmem.experiments import information_plane as ip
from jaxmem import cli
from jaxmem.metrics import information
from jaxmem.store import Store

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MODULE = "jaxmem.experiments.information_plane"
# tanh only (each activation is two compilations, ~5-10 s on a loaded 2-core CPU), full-batch
# Adam, 2 seeds, checkpoints at epochs 0 and 2: 2 x 6 configs (one per epoch and layer).
TINY = dict(activations=("tanh",), seeds=2, epochs=2, checkpoints=2, optimizer="adam",
            lr=3e-3, batch_size=None, train_fraction=0.85)
CONFIGS = 2 * ip.LAYERS
DATASETS = CONFIGS * TINY["seeds"]


def _register(mp):
    """The tiny scale in place of quick."""
    assert MODULE in {m.__name__ for m in experiments.all_experiments()}  # registered
    mp.setitem(ip.SCALES, "quick", TINY)


def _reproduce(store, out) -> tuple[int, str]:
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        rc = cli.main(["reproduce", ip.NAME, "--scale", "quick", "--store", str(store),
                       "--out", str(out), "--no-progress"])
    return rc, stdout.getvalue()


def _computed(stdout: str) -> tuple[int, int]:
    (line,) = [l for l in stdout.splitlines() if l.startswith(f"{ip.NAME}: ")]
    words = line.split()
    return int(words[1]), int(words[4])


def _read_csv(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny quick scale reproduced twice on one store; the second run may not train."""
    root = tmp_path_factory.mktemp("information_plane")
    store, out = root / "store.sqlite", root / "figures"
    with pytest.MonkeyPatch.context() as mp:
        _register(mp)
        first = _reproduce(store, out)
        csv_first = (out / f"{ip.NAME}.csv").read_text()

        def refuse(*args, **kwargs):
            raise AssertionError("a resumed run computed something")
        for name in ("start", "train_segment", "measure"):
            mp.setattr(ip, name, refuse)
        second = _reproduce(store, out)
    with Store(store) as s:
        runs = [r for r in s.runs() if r["sweep"] == ip.NAME]
        records = s.records(runs[-1]["run_id"])
    return dict(first=first, second=second, out=out, runs=runs, records=records,
                csv_first=csv_first)


# --- the data --------------------------------------------------------------------------------

def test_icosahedron_and_the_label_rule():
    V = ip.icosahedron()
    assert V.shape == (12, 3) and np.allclose(np.linalg.norm(V, axis=1), 1)
    G = V @ V.T
    # A regular icosahedron: every vertex has 5 neighbours at cos = 1/sqrt(5) and 1 antipode.
    assert np.all(np.sum(np.isclose(G, 1 / np.sqrt(5)), axis=1) == 5)
    assert np.all(np.sum(np.isclose(G, -1), axis=1) == 1)
    X, y = ip.dataset()
    assert X.shape == (4096, 12) and set(np.unique(X)) == {-1.0, 1.0}
    assert len(np.unique(X, axis=0)) == 4096                   # every pattern once
    assert X[5].tolist() == [-1] * 9 + [1, -1, 1]              # binary order: 5 = 0b101
    m2 = ip.dipole(X)
    assert np.min(np.abs(m2 - ip.THRESHOLD)) > 1.1            # 10 sits in a gap: no near ties
    assert np.array_equal(y, (m2 > 10).astype(np.int32))
    assert np.array_equal(ip.dipole(-X), m2)                  # symmetric under x -> -x
    assert int(y.sum()) == 2036 and 0.45 < y.mean() < 0.55    # balanced-ish
    p = np.bincount(y) / len(y)
    assert float(-np.sum(p * np.log2(p))) == pytest.approx(0.99998, abs=1e-5)
    size = ip.check_size(TINY)
    mask = ip.split(size)
    assert mask.sum() == 3482 and np.array_equal(mask, ip.split(size))   # fixed, 85%


def test_sizes_and_checkpoints():
    size = ip.check_size(ip.SCALES["quick"])
    epochs = ip.checkpoint_epochs(size)
    assert epochs[0] == 0 and epochs[-1] == size["epochs"]
    assert epochs == sorted(set(epochs)) and len(epochs) <= size["checkpoints"]
    assert size["setting"] == "jaxmem" and "setting" not in ip.net_config("tanh", size)
    assert ip.steps_per_epoch(ip.check_size(ip.SCALES["quick"])) == 3482 // 256
    assert ip.checkpoint_epochs(ip.check_size(TINY)) == [0, 2]
    assert ip.SCALES["full"]["epochs"] >= 10 * ip.SCALES["quick"]["epochs"]
    with pytest.raises(ValueError, match="activations"):
        ip.check_size(dict(TINY, activations=("sigmoid",)))
    with pytest.raises(ValueError, match="checkpoints"):
        ip.check_size(dict(TINY, checkpoints=1))
    with pytest.raises(ValueError, match="full batch"):
        ip.check_size(dict(TINY, optimizer="sgd"))
    with pytest.raises(ValueError, match="setting"):
        ip.check_size(dict(TINY, setting="tf"))
    with pytest.raises(ValueError, match="tanh networks trained by Adam"):
        ip.check_size(dict(ip.SCALES["full"], activations=("tanh", "relu")))
    with pytest.raises(ValueError, match="tanh networks trained by Adam"):
        ip.check_size(dict(ip.SCALES["full"], optimizer="sgd"))
    with pytest.raises(ValueError, match="quick"):
        ip.grids("huge")
    assert ip.grids("quick") == [] and ip.grids("full") == [] and ip.grids("authors") == []


# --- the authors' setting --------------------------------------------------------------------
# Shwartz-Ziv & Tishby's public code, ravidziv/IDNNs at commit e53f054 (typed here from it,
# not from the experiment): idnns/networks/network_paramters.py's defaults -batch_size 512,
# -learning_rate 0.0004, -inds [80] (percent of the data for training), -num_samples 400
# (log2-spaced checkpoints), -num_of_bins 30, -activation_function 0 (tanh), -net '1'
# (hidden 10, 7, 5, 4, 3); idnns/networks/model.py: tf.train.AdamOptimizer; the run names in
# idnns/plots/plot_figures.py: nEpoch=10000, LastEpochsInds=9998.
THEIRS = dict(batch_size=512, lr=0.0004, train_fraction=0.80, checkpoints=400, epochs=10_000,
              activations=("tanh",), optimizer="adam")


def test_the_authors_scale_is_their_setting():
    assert ip.SCALES["authors"] is ip.SCALES["full"]
    size = ip.check_size(ip.SCALES["authors"])
    for k, v in THEIRS.items():
        assert size[k] == v, k
    assert size["seeds"] >= 20 and size["setting"] == "idnns"      # the issue: >= 20 runs
    assert ip.HIDDEN == (10, 7, 5, 4, 3) and ip.OUTPUTS == 2 and ip.N_BITS == 12
    assert ip.IDNNS_EDGES == 30
    assert ip.n_train_of(size) == int(np.rint(80 * 4096 / 100))   # utils.data_shuffle's perc
    assert ip.steps_per_epoch(size) == 7                             # 6 x 512 and 205
    epochs = ip.checkpoint_epochs(size)
    assert epochs[0] == 0 and epochs[-1] == 9998 and len(epochs) == 279
    assert epochs == sorted(set(epochs)) and epochs[:5] == [0, 1, 2, 3, 4]
    net = ip.net_config("tanh", size)
    assert net["setting"] == "idnns" and net["init"] == ip.IDNNS_INIT
    assert ip.record_config(net, 0, 6)["binning"] == ip.IDNNS_BINNING   # the softmax too


def test_idnns_batches_walk_the_rows_in_order():
    index, weight = ip.idnns_batches(3277, 512)
    assert index.shape == weight.shape == (7, 512)
    used = weight > 0
    assert used.sum(axis=1).tolist() == [512] * 6 + [205]
    assert np.array_equal(index[used], np.arange(3277))            # each row once, in order
    assert np.allclose(weight.sum(axis=1), 1.0)                     # each batch's mean loss
    index, weight = ip.idnns_batches(1024, 512)                     # no remainder batch
    assert index.shape == (2, 512) and np.all(weight == 1 / 512)


def test_idnns_init_is_a_truncated_normal():
    import jax
    dims = (12, 10, 7, 5, 4, 3, 2)
    # One compiled call (op by op, each shape's sampler would compile on its own).
    params, ((W, _),) = jax.jit(lambda k: (ip.idnns_init(k, dims), ip.idnns_init(
        jax.random.fold_in(k, 1), (400, 300))))(jax.random.key(0))   # 120,000 draws
    assert [(W.shape, b.shape) for W, b in params] == [((a, b), (b,))
                                                       for a, b in zip(dims, dims[1:])]
    assert all(np.all(np.asarray(b) == 0) for _, b in params)
    W = np.asarray(W) * np.sqrt(400)
    assert np.all(np.abs(W) <= 2.0)
    assert np.std(W) == pytest.approx(0.8796, abs=0.01)   # sd of N(0, 1) truncated at +-2


def _their_information(T, labels):
    """I(X;T), I(T;Y) as information_process.py computes them: bins[np.digitize(x, bins) - 1]
    with bins = linspace(-1, 1, 30) in float32, then the distinct rows (4096 equally likely
    inputs)."""
    bins = np.linspace(-1, 1, 30).astype(np.float32)
    T = np.asarray(T, np.float32)
    digitized = bins[np.digitize(T.reshape(-1), bins) - 1].reshape(len(T), -1)

    def h(rows):
        rows = np.ascontiguousarray(rows)
        _, c = np.unique(rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))),
                         return_counts=True)
        p = c / c.sum()
        return float(-np.sum(p * np.log2(p)))
    joint = np.column_stack([digitized, np.asarray(labels, np.float32)])
    return h(digitized), h(digitized) + h(np.asarray(labels, np.float32)[:, None]) - h(joint)


def test_the_authors_binning_is_theirs():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 1000)
    cases = [np.tanh(rng.standard_normal((1000, 4)) * 2 + labels[:, None]),
             np.tanh(rng.standard_normal((1000, 2)) * 30),              # saturated
             np.where(rng.random((1000, 3)) < 0.3, 1.0, rng.uniform(-1, 1, (1000, 3))),
             rng.dirichlet([1, 1], 1000)]                               # a softmax layer
    for T in cases:
        ours = ip.idnns_information(T, labels)
        ixt, ity = _their_information(T, labels)
        assert ours["I_XT"] == pytest.approx(ixt, abs=1e-9)
        assert ours["I_TY"] == pytest.approx(ity, abs=1e-9)
        assert ours["I_XT"] <= ours["H_T_unbinned"] + 1e-12
    # Exactly 1.0 has a bin of its own; the 29 intervals are 2/29 wide.
    codes = ip.idnns_codes(np.array([[-1.0, -0.99, 0.999, 1.0]]))
    assert codes.tolist() == [[1, 1, 29, 30]]


# --- the compression-phase statistic ---------------------------------------------------------

EPOCHS = np.array([0, 1, 3, 10, 30, 100, 300])


def _runs(curve, noise, runs=20, seed=0):
    return np.asarray(curve, float) + noise * np.random.default_rng(seed).standard_normal(
        (runs, len(curve)))


def test_phase_statistics_sees_fitting_then_compression():
    curve = [8.0, 8.5, 9.2, 9.6, 8.9, 7.5, 6.0]          # rises to epoch 10, then falls
    ph = ip.phase_statistics(EPOCHS, _runs(curve, 0.05))
    assert ph["peak_epoch"] == 10 and ph["phase"] == "fitting then compression"
    assert ph["rise_mean"] == pytest.approx(1.6, abs=0.05)
    assert ph["fall_mean"] == pytest.approx(3.6, abs=0.05)
    assert ph["rise_lo"] < ph["rise_mean"] < ph["rise_hi"]


def test_phase_statistics_can_report_no_compression():
    rising = ip.phase_statistics(EPOCHS, _runs([8.0, 8.5, 9.0, 9.5, 10, 10.5, 11], 0.05))
    assert rising["peak_epoch"] == 300 and rising["fall_mean"] == 0
    assert rising["phase"] == "fitting, no compression" and not rising["compression"]
    flat = ip.phase_statistics(EPOCHS, np.full((5, len(EPOCHS)), 12.0))
    assert flat["phase"] == "neither" and flat["fall_hi"] == 0
    falling = ip.phase_statistics(EPOCHS, _runs([12, 11.5, 11, 10, 9, 8, 7], 0.05))
    assert falling["peak_epoch"] == 0 and falling["phase"] == "compression, no fitting phase"
    # A fitting phase after an early fall is seen as a rise from the earlier minimum.
    dip = ip.phase_statistics(EPOCHS, _runs([10, 9.5, 9.0, 9.6, 9.2, 8, 7], 0.05))
    assert dip["phase"] == "compression, no fitting phase" and dip["local_fitting"]
    assert (dip["local_from_epoch"], dip["local_to_epoch"]) == (3, 10)
    assert dip["local_rise_mean"] == pytest.approx(0.6, abs=0.05)
    assert not falling["local_fitting"]
    # A fall smaller than the run-to-run noise is not called compression.
    noisy = ip.phase_statistics(EPOCHS, _runs([8, 8.5, 9, 9.6, 9.5, 9.45, 9.4], 1.0, runs=5))
    assert not noisy["compression"]
    with pytest.raises(ValueError, match="runs"):
        ip.phase_statistics(EPOCHS, np.zeros((3, 4)))


def _idnns_records(ixt_curves: dict, runs=4) -> list[dict]:
    """Records of the authors' setting: layer l's I(X;T) follows ixt_curves[l] (+ noise); the
    training error falls 0.5 -> 0 by epoch 30; unbinned 12 bits."""
    err = np.interp(EPOCHS, [0, 30, 300], [0.5, 0.0, 0.0])
    out = []
    for l in range(1, ip.LAYERS + 1):
        xt = _runs(ixt_curves.get(l, [5.0] * len(EPOCHS)), 0.01, runs, seed=l)
        for s in range(runs):
            for c, e in enumerate(EPOCHS):
                out.append(dict(setting="idnns", activation="tanh", dataset_index=s,
                                epoch=int(e), layer=l, I_XT=xt[s, c], I_TY=0.5,
                                H_T_unbinned=12.0, edge_fraction=0.1 * c,
                                train_accuracy=1 - err[c], test_accuracy=1 - err[c],
                                lr=4e-4, batch_size=512, n_train=3277, train_fraction=0.8))
    return out


def test_the_authors_report_says_what_it_sees():
    late = [8.0, 8.5, 9.2, 9.6, 9.9, 7.5, 6.0]           # peaks at epoch 30: error 0
    early = [8.0, 9.5, 9.0, 8.5, 8.0, 7.5, 7.0]          # peaks at epoch 1: error still high
    records = _idnns_records({1: late, 5: early})
    arrays = ip.run_arrays(records)
    assert arrays["I_XT"].shape == (ip.LAYERS, 4, len(EPOCHS))
    phases = ip.layer_phases(arrays)
    assert [L["compression"] for L in phases] == [True, False, False, False, True, False]
    assert phases[0]["peak_epoch"] == 30 and phases[0]["error_fall_done_at_peak"] == 1.0
    assert phases[4]["peak_epoch"] == 1
    assert phases[4]["error_fall_done_at_peak"] == pytest.approx(1 / 30)
    assert phases[0]["epochs_after_peak"] == pytest.approx(270 / 300)
    # The fit: the first checkpoint with mean training error <= 1% is epoch 30.
    assert all(L["fit_epoch"] == 30 for L in phases)
    assert phases[0]["after_fit_mean"] == pytest.approx(3.9, abs=0.05)
    assert phases[4]["after_fit_mean"] == pytest.approx(1.0, abs=0.05)
    assert phases[1]["after_fit_hi"] < ip.MIN_BITS
    md = ip.authors_markdown(arrays, phases, records)
    assert "Compression at all: 2 (T1, T5); no compression: 4 (T2, T3, T4, T6)" in md
    assert "In T5 it starts before 90% of the error's fall is done" in md
    assert "from epoch 30): I(X;T) falls further, interval above 0.1 bit, in 2 of 6 layers (T1 " \
        in md
    for _, quote in ip.PAPER_QUOTES:
        assert quote in md
    with pytest.raises(ValueError, match="every"):
        ip.run_arrays(records[1:])


# --- the estimator ---------------------------------------------------------------------------

def test_sorting_estimator_is_the_library_estimate():
    """binned_information counts by sorting what information.layer_information counts
    pairwise: the same I(X;T), I(T;Y) and H(Y), for a fixed and an own range."""
    rng = np.random.default_rng(0)
    N = 300
    labels = rng.integers(0, 2, N)
    tanh_like = np.tanh(rng.standard_normal((N, 3)) * 1.5 + labels[:, None])
    relu_like = np.maximum(rng.standard_normal((N, 3)) + 0.5 * labels[:, None], 0)
    cases = [(tanh_like, ip.layer_range("tanh", 1, tanh_like)),
             (relu_like, ip.layer_range("relu", 2, relu_like))]
    for T, value_range in cases:
        ours = ip.binned_information(T, labels, value_range)
        ref = information.layer_information(T, labels, ip.BINS, value_range)
        for k in ("I_XT", "I_TY", "H_Y"):
            assert ours[k] == pytest.approx(float(ref[k]), abs=1e-9), k
        assert ours["I_XT"] <= ours["H_T_unbinned"] + 1e-12   # binning is a function of T
    assert ip.layer_range("tanh", 3, tanh_like) == (-1.0, 1.0)
    assert ip.layer_range("relu", 2, relu_like) == (0.0, float(relu_like.max()))
    assert ip.layer_range("relu", 2, np.zeros((5, 2))) == (0.0, 1.0)       # a dead layer
    assert ip.layer_range("relu", ip.LAYERS, relu_like) == (0.0, 1.0)      # the softmax
    dead = ip.binned_information(np.zeros((N, 2)), labels, (0.0, 1.0))
    assert dead["I_XT"] == 0 and abs(dead["I_TY"]) < 1e-12


# --- the pipeline ----------------------------------------------------------------------------

@pytest.mark.slow
def test_reproduce_end_to_end_and_resume(tiny):
    (rc1, out1), (rc2, out2) = tiny["first"], tiny["second"]
    assert rc1 == 0 and rc2 == 0
    assert _computed(out1) == (DATASETS, 0)
    assert _computed(out2) == (0, DATASETS)         # resume: nothing trained or measured
    runs = tiny["runs"]
    assert len(runs) == 2 and all(r["kind"] == "experiment" and r["status"] == "done"
                                  for r in runs)
    assert runs[-1]["n_configs"] == CONFIGS and runs[-1]["n_records"] == DATASETS
    records = tiny["records"]
    assert sorted((r["epoch"], r["layer"], r["dataset_index"]) for r in records) == sorted(
        (e, l, s) for e in (0, 2) for l in range(1, ip.LAYERS + 1) for s in (0, 1))
    assert all(r["run_id"] == runs[0]["run_id"] for r in records)   # written once, by run 1
    out = tiny["out"]
    for ext in ("png", "csv", "md"):
        assert (out / f"{ip.NAME}.{ext}").stat().st_size > 0
    assert (out / f"{ip.NAME}.png").read_bytes()[:8] == PNG_MAGIC
    # The second run rendered from the store alone (it computed nothing): the same CSV.
    assert (out / f"{ip.NAME}.csv").read_text() == tiny["csv_first"]
    assert "wrote" in out2 and f"{ip.NAME}.md" in out2


def test_records_obey_the_information_inequalities(tiny):
    records = tiny["records"]
    _, y = ip.dataset()
    p = np.bincount(y) / len(y)
    h_y = float(-np.sum(p * np.log2(p)))
    for r in records:
        assert r["H_Y"] == pytest.approx(h_y, abs=1e-12)
        assert -1e-9 <= r["I_TY"] <= r["H_Y"] + 1e-9            # I(T;Y) <= H(Y)
        assert 0 <= r["I_XT"] <= 12 + 1e-9                      # <= log2 4096
        assert r["I_XT"] <= r["H_T_unbinned"] + 1e-9            # binning only merges rows
        assert 0 <= r["train_accuracy"] <= 1 and 0 <= r["test_accuracy"] <= 1
        assert r["binning"] == ("fixed[0,1]" if r["layer"] == ip.LAYERS else "fixed[-1,1]")
    first = [r for r in records if r["epoch"] == 0 and r["layer"] == 1]
    assert len(first) == 2 and all(r["I_XT"] > 11.5 for r in first)   # 10 tanh units, 30 bins
    # The network's own (unbinned) I(X;T) obeys data processing exactly: T_{l+1} = f(T_l).
    by_point = {}
    for r in records:
        by_point.setdefault((r["dataset_index"], r["epoch"]), {})[r["layer"]] = r
    for layers in by_point.values():
        raw = [layers[l]["H_T_unbinned"] for l in range(1, ip.LAYERS + 1)]
        assert all(b <= a + 1e-9 for a, b in zip(raw, raw[1:]))
    assert ip.summary(ip.config_rows(records), records)["tanh"]["dpi_raw"]["broken_pairs"] == 0


def test_csv_and_markdown_match_the_records(tiny):
    rows = _read_csv(tiny["out"] / f"{ip.NAME}.csv")
    assert len(rows) == CONFIGS
    assert [(int(r["epoch"]), int(r["layer"])) for r in rows] == [
        (e, l) for e in (0, 2) for l in range(1, ip.LAYERS + 1)]
    for row in rows:
        recs = [r for r in tiny["records"] if r["epoch"] == int(row["epoch"])
                and r["layer"] == int(row["layer"])]
        assert int(row["seeds"]) == 2 and int(row["width"]) == ip.LAYER_WIDTHS[
            int(row["layer"]) - 1]
        assert float(row["I_XT_mean"]) == pytest.approx(np.mean([r["I_XT"] for r in recs]),
                                                        rel=1e-9)
        assert float(row["I_TY_mean"]) == pytest.approx(np.mean([r["I_TY"] for r in recs]),
                                                        abs=1e-9)
    md = (tiny["out"] / f"{ip.NAME}.md").read_text()
    assert "## tanh (2 seeds)" in md and "| T1 hidden 1 | 10 |" in md
    assert "(holds)" in md and "compression" in md.lower()


# --- the report's checks can fail ------------------------------------------------------------

def _fake_records(values: dict, key: str = "I_XT") -> list[dict]:
    """Records of one (seed 0, epoch 0) point whose `key` per layer is values[layer]."""
    return [dict(activation="tanh", dataset_index=0, epoch=0, layer=l, **{key: v})
            for l, v in values.items()]


def test_dpi_check_reports_a_broken_ordering():
    ok = ip.dpi_check(_fake_records({1: 12.0, 2: 11.0, 3: 11.0}), "tanh", "I_XT")
    assert (ok["points"], ok["pairs"], ok["broken_pairs"]) == (1, 2, 0)
    bad = ip.dpi_check(_fake_records({1: 12.0, 2: 10.0, 3: 10.5}), "tanh", "I_XT")
    assert bad["broken_pairs"] == 1 and bad["broken_points"] == 1
    assert bad["worst"] == pytest.approx(0.5) and bad["where"]["layers"] == (2, 3)
    assert "broken at 1 of 1" in ip._dpi_line(bad, "the estimate")


def test_render_without_records_says_so(tmp_path):
    with Store(tmp_path / "empty.sqlite") as store:
        with pytest.raises(ValueError, match="no information_plane records"):
            ip.render(store, {}, str(tmp_path / "out"))
