"""The exact optimal-size memorizers through the sweep engine (host constructions with their own
trials): "yu2024.width6" (Yu et al. 2024, Theorem 4.1) and "park2021" (PLYS-R, the
reconstruction of Park et al. 2021). Each record says whether the theorem's property held (ok),
whether the dataset met the hypotheses (valid), and the sizes; the parameter counts equal the
modules' formulas (computed from the records' own fields), and ok flips where the theorem is
broken on purpose (the printed Lemma B.4 ramp, ramps too shallow for the margin) and valid
where the data break the hypotheses (points off [0, 1]^n, one label only, one point with both
labels)."""

from fractions import Fraction

import jax
import numpy as np
import pytest

from jaxmem import exact
from jaxmem.constructions import park2021
from jaxmem.constructions import yu2024_width6 as m3
from jaxmem.constructions.protocol import measure_host
from jaxmem.store import Store
from jaxmem.sweep import parse_grid, run_sweep


def _records(tmp_path, construction, datasets=3, **spec):
    spec.setdefault("labels", "sign")
    grid = parse_grid(dict(name=f"t-{construction}", construction=construction,
                           datasets=datasets, chunk_size=datasets, **spec))
    with Store(tmp_path / "s.sqlite") as store:
        stats = run_sweep(grid, store, progress=False, exact_budget=0)
        records = store.dataframe(stats.run_id)
    assert stats.computed == len(grid.configs()) * datasets == len(records)
    return records


def _file(tmp_path, X, y):
    path = tmp_path / "points.npz"
    np.savez(path, X=np.asarray(X, float), y=np.asarray(y, float))
    return f"file:{path}"


# ------------------------------------------------------------------------------- yu2024.width6

def test_yu_width6_sweep_memorizes_with_the_formula_count(tmp_path):
    records = _records(tmp_path, "yu2024.width6", data="cube", axes=dict(n=[9, 20], d=[2]))
    assert records["valid"].all() and records["ok"].all() and records["memorizes"].all()
    assert (records["memorized_fraction"] == 1).all() and (records["width"] == 6).all()
    assert not records["undecided"].any()
    for r in records.to_dict("records"):
        assert r["param_count"] == r["formula_param_count"] == m3.param_formula(
            int(r["d"]), int(r["blocks"]), int(r["block_points"]), int(r["strip_stages"]))
        assert r["block_points"] == int(np.sqrt(r["n"]))          # [sqrt(N)] points per block
        assert 0 < r["nonzero_param_count"] < r["param_count"]
        assert r["digits"] <= m3.digit_bound(int(r["d"]), int(r["n"]), r["c0"])


def test_yu_width6_sweep_flips_with_lemma_b4_as_printed(tmp_path):
    """ramp = "paper": valid data, but each block's last slot is extracted one too small, so
    positives are lost (tests/test_yu2024_width6.py predicts which)."""
    records = _records(tmp_path, "yu2024.width6", data="cube",
                       axes=dict(n=[20], d=[2], ramp=["left", "paper"]))
    left, paper = records[records["ramp"] == "left"], records[records["ramp"] == "paper"]
    assert left["ok"].all() and records["valid"].all()
    assert not paper["ok"].any() and (paper["memorized_fraction"] < 1).all()
    assert (paper["param_count"] == paper["formula_param_count"]).all()   # only the ramp differs


def test_yu_width6_sweep_flags_data_outside_the_hypotheses(tmp_path):
    off_cube = _records(tmp_path, "yu2024.width6", datasets=2, data="gaussian",
                        axes=dict(n=[8], d=[2]))
    assert not off_cube["valid"].any() and not off_cube["ok"].any()
    assert (off_cube["param_count"] == 0).all()
    one_label = _records(tmp_path, "yu2024.width6", datasets=2, data="cube",
                         axes=dict(n=[1], d=[2]))
    assert not one_label["valid"].any() and not one_label["ok"].any()
    both_labels = _records(tmp_path, "yu2024.width6", datasets=2, axes={},
                           data=_file(tmp_path, [[0.1, 0.2], [0.5, 0.5], [0.1, 0.2]], [1, 1, -1]))
    assert not both_labels["valid"].any() and not both_labels["ok"].any()


def test_yu_width6_sweep_seed_rebuilds_the_network():
    X, y = np.random.default_rng(0).random((10, 2)), np.array([1, -1] * 5)
    record = measure_host(m3.build.construction, jax.random.key(4), X, y)
    net, info = m3.build(record["build_seed"], X, y)
    assert record["param_count"] == info["param_count"] and record["c0"] == info["c0"]
    key_net, _ = m3.build(jax.random.key(4), X, y)
    assert list(exact.apply(net, X, allow_float=True)) == list(key_net.apply(X))


# ------------------------------------------------------------------------------------ park2021

def test_park2021_sweep_memorizes_with_the_formula_count(tmp_path):
    records = _records(tmp_path, "park2021", data="cube", axes=dict(n=[16, 100], d=[3]))
    assert records["valid"].all() and records["ok"].all() and records["memorizes"].all()
    assert records["sizes_ok"].all() and not records["undecided"].any()
    for r in records.to_dict("records"):
        assert r["param_count"] == r["predicted_param_count"] == park2021.predicted_param_count(
            int(r["d"]), int(r["groups"]), int(r["buckets"]), int(r["label_bits"]))
        assert r["width"] == park2021.stage3_width(int(r["label_bits"])) == 9
    big = records[records["n"] == 100]
    assert (big["groups"] < 100).all() and (big["buckets"] > 1).all()   # real groups and tables


def test_park2021_sweep_flips_with_ramps_too_shallow_for_the_margin(tmp_path, monkeypatch):
    """Slope q_max instead of 2 q_max: some u lie inside a ramp, the read-out is wrong, while
    the sizes still equal the formulas."""
    monkeypatch.setattr(park2021, "RAMP_SLOPE_FACTOR", Fraction(1, 2))
    records = _records(tmp_path, "park2021", datasets=2, data="cube", axes=dict(n=[64], d=[4]))
    assert records["valid"].all() and records["sizes_ok"].all()
    assert not records["ok"].all() and not records["memorizes"].all()


def test_park2021_sweep_flags_one_point_with_both_labels(tmp_path):
    data = _file(tmp_path, [[0.1, 0.2], [0.5, 0.5], [0.1, 0.2]], [1, -1, -1])
    records = _records(tmp_path, "park2021", datasets=2, data=data, axes={})
    assert not records["valid"].any() and not records["ok"].any()
    assert (records["param_count"] == 0).all()


@pytest.mark.parametrize("option, value, message", [
    ("table_size", 0, "table_size"), ("separation_test", 1, "separation_test"),
    ("max_draws", 0, "max_draws")])
def test_park2021_grid_refuses_a_bad_option_by_name(option, value, message):
    with pytest.raises(ValueError, match=message):
        parse_grid(dict(name="bad", construction="park2021", data="cube", labels="sign",
                        datasets=1, axes=dict(n=[8], d=[2], **{option: [value]})))


def test_yu_width6_grid_refuses_a_bad_option_by_name():
    for option, value in (("ramp", "right"), ("block_size", 0)):
        with pytest.raises(ValueError, match=option):
            parse_grid(dict(name="bad", construction="yu2024.width6", data="cube", labels="sign",
                            datasets=1, axes=dict(n=[8], d=[2], **{option: [value]})))
