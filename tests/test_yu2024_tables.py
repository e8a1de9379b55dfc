"""Yu, Gao, Zhang, Miao (2024) Tables 1-3 (experiments/yu2024_tables.py, yu2024_table3.py,
jaxmem/training/resnet.py): the digits table end to end through the store and its resume, the
MNIST / CIFAR-10 tables and the ResNet table on small generated files in the real formats
(through `jaxmem reproduce`), Table 3's absent-files path (exit 2, naming the data directory), the
CSV against a direct recomputation of one pair, and the ResNet trainer on an easy pair."""

import csv
import pickle
import struct

import jax
import numpy as np
import pytest

from jaxmem import experiment as experiments
from jaxmem.experiments import yu2024_table3 as table3
from jaxmem.experiments import yu2024_tables as tables
from jaxmem import cli
from jaxmem.constructions import yu2024
from jaxmem.data import real
from jaxmem.store import Store
from jaxmem.training import resnet

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# The generated files: per class, this many training and test images (MNIST and CIFAR-10),
# and the scales the tests run (small, every code path of the quick scale).
TRAIN_PER_CLASS, TEST_PER_CLASS = 12, 6
TINY_TABLES = {"digits": dict(tables.SCALES["quick"]["digits"]),
               "mnist5k": dict(per_class=5, test_per_class=5, draws=1),
               # mnist5k and mnist: tests/test_yu2024_table4.py's sizes (its M1 programs,
               # shared through the session's compilation cache); two draws: digits, cifar10
               "mnist": dict(per_class=6, test_per_class=None, draws=1),
               "cifar10": dict(per_class=8, test_per_class=4, draws=2)}
# Table 3 on Table 2's tiny draws; the trainer test below uses the same programs (compiled
# once): 16 training images of 32x32x3, batches of 8, widths (4,), one block, 3 epochs.
TINY_NETWORK = dict(widths=[4], blocks=[1])
TINY_TRAINING = dict(table3.TRAINING, epochs=3, batch_size=8)
TINY_TABLE3 = dict(per_class=8, test_per_class=4, draws=1, network=TINY_NETWORK,
                   training=TINY_TRAINING)
TABLE3_PAIRS = ((3, 5), (0, 9))


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """No real data directory, empty data caches; both experiments are registered."""
    names = {m.NAME for m in experiments.all_experiments()}
    assert {"yu2024_tables", "yu2024_table3"} <= names
    monkeypatch.setenv("JAXMEM_DATA", str(tmp_path / "no-data"))
    tables.clear_cache()
    yield
    tables.clear_cache()


def reproduce(name, tmp_path, *extra):
    store, out = tmp_path / "store.sqlite", tmp_path / "figures"
    rc = cli.main(["reproduce", name, "--scale", "quick", "--store", str(store), "--out",
                   str(out), "--no-progress", *extra])
    return rc, store, out


def computed_counts(stdout: str) -> dict[str, int]:
    return {line.split(":")[0]: int(line.split(": ", 1)[1].split()[0])
            for line in stdout.splitlines() if " datasets computed, " in line}


def read_csv(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# --- generated data files in the real formats ------------------------------------------------

def _idx(array: np.ndarray) -> bytes:
    return (struct.pack(">I", 0x0800 | array.ndim)
            + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes())


def _images(rng, labels, size: int) -> np.ndarray:
    """A fixed random prototype per class, scaled and noised per image: separable classes
    with some spread (uint8)."""
    prototypes = np.random.default_rng(7).integers(0, 256, (10, size)).astype(float)
    x = (prototypes[labels] * rng.uniform(0.5, 1.0, (len(labels), 1))
         + rng.normal(0, 40, (len(labels), size)))
    return np.clip(x, 0, 255).astype(np.uint8)


def write_fake_files(root):
    """MNIST IDX files and CIFAR-10 python batches, labels cycling 0..9."""
    rng = np.random.default_rng(0)
    (root / "mnist").mkdir(parents=True)
    for split, per in (("train", TRAIN_PER_CLASS), ("test", TEST_PER_CLASS)):
        labels = (np.arange(10 * per) % 10).astype(np.uint8)
        images, label_file = real.MNIST_FILES[split]
        (root / "mnist" / images).write_bytes(
            _idx(_images(rng, labels, 784).reshape(-1, 28, 28)))
        (root / "mnist" / label_file).write_bytes(_idx(labels))
    batches = root / "cifar10" / real.CIFAR10_DIR
    batches.mkdir(parents=True)
    names = real.CIFAR10_BATCHES["train"] + real.CIFAR10_BATCHES["test"]
    for name in names:
        per = TEST_PER_CLASS if name == "test_batch" else -(-TRAIN_PER_CLASS // 5)
        labels = np.arange(10 * per) % 10
        (batches / name).write_bytes(pickle.dumps(
            {b"data": _images(rng, labels, 3072), b"labels": [int(v) for v in labels]}))


# --- the digits table: no files needed -------------------------------------------------------

@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """The digits table at quick scale, run twice on one store."""
    path = tmp_path_factory.mktemp("digits") / "store.sqlite"
    with Store(path) as store:
        first = tables.run_table(store, "digits", "quick", progress=False)
        second = tables.run_table(store, "digits", "quick", progress=False)
        out = tmp_path_factory.mktemp("digits_out")
        paths = tables.render_tables(store, str(out))
        records = store.records(first.run_id)
    return dict(first=first, second=second, paths=paths, out=out, records=records)


@pytest.mark.slow
def test_digits_table_through_the_store_and_resume(digits_run):
    first, second = digits_run["first"], digits_run["second"]
    draws = tables.SCALES["quick"]["digits"]["draws"]
    assert first.computed == 45 * draws and first.skipped == 0
    assert second.computed == 0 and second.skipped == 45 * draws   # resumed: nothing run
    records = digits_run["records"]
    assert len(records) == 45 * draws
    assert sorted({r["dataset_index"] for r in records}) == list(range(draws))
    assert all(r["valid"] and r["agree_with_nn_in_cells"] for r in records)
    # M1 tracks 1-NN from below on these easy pairs (docs/papers/yu2024.md §5.A.3, §5.F).
    assert np.mean([r["accuracy"] for r in records]) > 0.9
    names = {p.rsplit("/", 1)[-1] for p in digits_run["paths"]}
    assert names == {"yu2024_tables_digits.csv", "yu2024_tables_digits_m1_matrix.csv",
                     "yu2024_tables_digits_nn_matrix.csv", "yu2024_tables_digits.png",
                     "yu2024_tables.md"}
    assert (digits_run["out"] / "yu2024_tables_digits.png").read_bytes()[:8] == PNG_MAGIC
    text = (digits_run["out"] / "yu2024_tables.md").read_text()
    assert "Pairs with mean M1 accuracy > 90%" in text and "dense" in text


@pytest.mark.slow
def test_csv_matches_a_direct_recomputation(digits_run):
    """Pair (3, 8) recomputed without the runner's padding: each draw's training set from
    draw_pair, M1 built and evaluated on its unpadded test set, 1-NN in NumPy."""
    size = tables.SCALES["quick"]["digits"]
    data = tables.load_table_data("digits")
    acc, ties, nn = [], [], []
    for draw in range(size["draws"]):
        d = tables.draw_pair(data, 3, 8, per_class=size["per_class"], test_per_class=None,
                             draw=draw)
        X, y = data.X_train[d["train_idx"]], d["y_train"]
        T, yT = data.X_train[d["test_idx"]], d["y_test"]
        assert set(np.unique(data.labels_train[d["train_idx"]][y > 0])) == {8}  # +1 = larger
        assert not set(d["train_idx"]) & set(d["test_idx"])
        # Built in one compiled call (X, y closed over: validated on the host as they are)
        # rather than op by op; the same M1 arrays.
        m1 = jax.jit(lambda: yu2024.build(None, X, y)[0])()  # noqa: B023 (called now)
        ev = yu2024.evaluate(m1, T, yT)
        exact = lambda f: np.rint(float(f) * len(T)) / len(T)  # noqa: E731 (float32 means)
        acc.append(exact(ev["accuracy"]))
        ties.append(exact(ev["tie_fraction"]))
        dist = ((T[:, None, :].astype(np.float64) - X[None]) ** 2).sum(-1)
        nn.append(float(np.mean(y[dist.argmin(1)] == yT)))
    row = next(r for r in read_csv(digits_run["out"] / "yu2024_tables_digits.csv")
               if (r["negative"], r["positive"]) == ("3", "8"))
    assert float(row["m1_accuracy_mean"]) == pytest.approx(np.mean(acc), abs=1e-9)
    assert float(row["m1_accuracy_sd"]) == pytest.approx(np.std(acc, ddof=1), abs=1e-9)
    assert float(row["tie_fraction_mean"]) == pytest.approx(np.mean(ties), abs=1e-9)
    assert float(row["nn_accuracy_mean"]) == pytest.approx(np.mean(nn), abs=1e-9)
    counts = yu2024.param_counts(size["per_class"], size["per_class"], 64)
    assert int(row["dense_param_count"]) == counts["dense_param_count"]
    assert int(row["nonzero_param_count"]) == counts["sparse_param_count"]
    matrix = read_csv(digits_run["out"] / "yu2024_tables_digits_m1_matrix.csv")
    assert float(matrix[3]["8"]) == float(matrix[8]["3"]) == float(row["m1_accuracy_mean"])
    assert matrix[3]["3"] == ""


def test_draws_are_shared_and_reproducible():
    data = tables.load_table_data("digits")
    a = tables.draw_pair(data, 1, 7, per_class=5, test_per_class=None, draw=0)
    b = tables.draw_pair(data, 1, 7, per_class=5, test_per_class=None, draw=0)
    c = tables.draw_pair(data, 1, 7, per_class=5, test_per_class=None, draw=1)
    np.testing.assert_array_equal(a["train_idx"], b["train_idx"])
    assert not np.array_equal(a["train_idx"], c["train_idx"])
    with pytest.raises(ValueError, match="0 <= a < b"):
        tables.draw_pair(data, 7, 1, per_class=5, test_per_class=None, draw=0)
    with pytest.raises(ValueError, match="quick"):
        tables.grids("huge")


# --- absent files ----------------------------------------------------------------------------

def test_without_files_exit_2_naming_the_data_directory(tmp_path, capsys):
    # yu2024_tables runs the tables it has data for (tests/test_yu2024_mnist5k.py); Table 3
    # is CIFAR-10's alone.
    for name, needles in (("yu2024_table3", ("CIFAR-10 not found",)),):
        rc, store, _ = reproduce(name, tmp_path, "--data-dir", str(tmp_path / "elsewhere"))
        err = capsys.readouterr().err
        assert rc == 2, name
        assert str(tmp_path / "elsewhere") in err and "JAXMEM_DATA" in err
        assert all(n in err for n in needles)
        assert not store.exists()   # nothing ran


# --- MNIST, CIFAR-10 and Table 3 on generated files ------------------------------------------

@pytest.mark.slow
def test_tables_and_table3_with_generated_files(tmp_path, monkeypatch, capsys):
    write_fake_files(tmp_path / "data")
    monkeypatch.setenv("JAXMEM_DATA", str(tmp_path / "data"))
    monkeypatch.setitem(tables.SCALES, "quick", TINY_TABLES)
    monkeypatch.setitem(table3.SCALES, "quick", TINY_TABLE3)
    monkeypatch.setattr(table3, "PAIRS", TABLE3_PAIRS)
    rc, store, out = reproduce("yu2024_tables", tmp_path)
    printed = capsys.readouterr().out
    assert rc == 0
    counts = computed_counts(printed)
    assert counts == {f"yu2024_tables.{t}": 45 * TINY_TABLES[t]["draws"] for t in tables.TABLES}
    for t in tables.TABLES:
        for suffix in (".csv", "_m1_matrix.csv", "_nn_matrix.csv", ".png"):
            path = out / f"yu2024_tables_{t}{suffix}"
            assert path.is_file() and f"wrote {path}" in printed
        rows = read_csv(out / f"yu2024_tables_{t}.csv")
        assert len(rows) == 45 and {int(r["draws"]) for r in rows} == {TINY_TABLES[t]["draws"]}
    mnist = read_csv(out / "yu2024_tables_mnist.csv")
    assert {float(r["n_test"]) for r in mnist} == {2 * TEST_PER_CLASS}   # all test images
    cifar = read_csv(out / "yu2024_tables_cifar10.csv")
    assert {float(r["n_test"]) for r in cifar} == {2 * 4}                 # the first 4 each
    assert int(cifar[0]["nonzero_param_count"]) == \
        yu2024.param_counts(8, 8, 3072)["sparse_param_count"]
    text = (out / "yu2024_tables.md").read_text()
    assert "## MNIST (Table 1)" in text and "## CIFAR-10 (Table 2)" in text
    assert "Cat vs dog (3, 5)" in text

    with Store(store) as again:   # resumed (what `reproduce` runs before rendering)
        assert {s.computed for s in tables.run(again, "quick").values()} == {0}
    capsys.readouterr()

    rc, _, _ = reproduce("yu2024_table3", tmp_path)
    printed = capsys.readouterr().out
    assert rc == 0 and computed_counts(printed) == {"yu2024_table3.cifar10": 2}
    rows = {(r["negative"], r["positive"]): r for r in read_csv(out / "yu2024_table3.csv")}
    assert set(rows) == {("3", "5"), ("0", "9")}
    for r in rows.values():   # Table 2's M1 on the same draw is found and put next to it
        assert int(r["m1_draws"]) == 1 and 0 <= float(r["resnet_accuracy_mean"]) <= 1
        assert float(r["resnet_minus_m1_mean"]) == pytest.approx(
            float(r["resnet_accuracy_mean"]) - float(r["m1_accuracy_mean"]))
    assert (out / "yu2024_table3.png").read_bytes()[:8] == PNG_MAGIC
    assert "Against M1 on the same draws (2 pairs" in (out / "yu2024_table3.md").read_text()
    with Store(store) as again:
        assert table3.run(again, "quick").computed == 0


# --- the ResNet trainer ----------------------------------------------------------------------

@pytest.mark.slow   # alone, ~7 s: compiling the ResNet's programs (shared with Table 3's run)
def test_resnet_learns_an_easy_pair():
    """Two colours of noisy 32x32 images, in Table 3's tiny configuration (same programs)."""
    rng = np.random.default_rng(3)
    n = 2 * TINY_TABLE3["per_class"]
    y = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    X = rng.uniform(0, 0.5, (n, 32, 32, 3)).astype(np.float32)
    X[y > 0, :, :, 0] += 0.5
    Xt = rng.uniform(0, 0.5, (2 * TINY_TABLE3["test_per_class"], 32, 32, 3)).astype(np.float32)
    yt = np.where(np.arange(len(Xt)) % 2 == 0, 1.0, -1.0)
    Xt[yt > 0, :, :, 0] += 0.5
    out = resnet.train_resnet_pair(jax.random.key(0), X, y, Xt, yt,
                                   widths=tuple(TINY_NETWORK["widths"]),
                                   blocks=tuple(TINY_NETWORK["blocks"]), **TINY_TRAINING)
    assert out["train_accuracy"] > 0.75 and out["test_accuracy"] > 0.75
    assert out["steps_per_epoch"] == n // TINY_TRAINING["batch_size"]
    shapes = jax.eval_shape(lambda: resnet.ResNet(widths=(4,), blocks=(1,)).init(
        jax.random.key(0), X[:1], train=False))
    assert out["param_count"] == resnet.param_count(shapes["params"])
    with pytest.raises(ValueError, match="row 0"):
        resnet.train_resnet_pair(jax.random.key(0), X, np.zeros(n), Xt, yt,
                                 **{**TINY_TRAINING, "epochs": 1})
    with pytest.raises(ValueError, match="exceeds"):
        resnet.train_resnet_pair(jax.random.key(0), X, y, Xt, yt, batch_size=n + 1)


def test_resnet18_has_the_standard_size():
    """11.17M parameters: the CIFAR ResNet-18 (kuangliu/pytorch-cifar, 2 classes)."""
    shapes = jax.eval_shape(lambda: resnet.ResNet().init(
        jax.random.key(0), np.zeros((1, 32, 32, 3), np.float32), train=False))
    assert resnet.param_count(shapes["params"]) == 11_169_858
