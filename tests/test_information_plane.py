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
    for scale in ("quick", "full"):
        size = ip.check_size(ip.SCALES[scale])
        epochs = ip.checkpoint_epochs(size)
        assert epochs[0] == 0 and epochs[-1] == size["epochs"]
        assert epochs == sorted(set(epochs)) and len(epochs) <= size["checkpoints"]
    assert ip.steps_per_epoch(ip.check_size(ip.SCALES["quick"])) == 3482 // 256
    assert ip.checkpoint_epochs(ip.check_size(TINY)) == [0, 2]
    assert ip.SCALES["full"]["epochs"] >= 10 * ip.SCALES["quick"]["epochs"]
    with pytest.raises(ValueError, match="activations"):
        ip.check_size(dict(TINY, activations=("sigmoid",)))
    with pytest.raises(ValueError, match="checkpoints"):
        ip.check_size(dict(TINY, checkpoints=1))
    with pytest.raises(ValueError, match="full batch"):
        ip.check_size(dict(TINY, optimizer="sgd"))
    with pytest.raises(ValueError, match="quick"):
        ip.grids("huge")
    assert ip.grids("quick") == [] and ip.grids("full") == []


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
