"""Cover's capacity experiment (experiments/cover_capacity.py): the data rule (a dataset of n
points is the first n points at any larger size), a tiny scale computed into a store and
resumed without recomputing, the tables against the records and Cover's exact formula, and
the report's ability to show a disagreement."""

import csv
from fractions import Fraction

import jax
import numpy as np
import pytest

from jaxmem.experiments import cover_capacity as cc
from jaxmem.experiments._records import scale_size
from jaxmem.metrics import separability as sep
from jaxmem.store import Store

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TINY = dict(dims=(2,), ratios=(1.0, 2.0, 3.0), datasets=8, chunk=8, screen_iters=100)
_draw = jax.jit(jax.vmap(cc.draw, in_axes=(0, None, None)), static_argnums=(1, 2))


def test_scales_and_configs():
    assert cc.grids("quick") == [] and cc.grids("full") == []
    with pytest.raises(ValueError, match="quick"):
        cc.grids("huge")
    with pytest.raises(ValueError, match="exactly the keys"):
        cc.check_size(dict(dims=(2,)))
    with pytest.raises(ValueError, match="ratios"):
        cc.check_size(dict(TINY, ratios=(0.0, 1.0)))
    full = cc.check_size(scale_size(cc.SCALES, "full"))
    assert full["dims"] == (5, 10, 25) and full["datasets"] >= 1000
    assert cc.point_counts(4, full["ratios"]) == list(range(1, 17))     # n/d = 1/4 .. 4
    assert len(cc.point_counts(25, full["ratios"])) == 16
    configs = cc.configs(cc.check_size(TINY))
    assert [(c["d"], c["affine"], c["n"]) for c in configs] == [
        (2, False, 2), (2, False, 4), (2, False, 6), (2, True, 2), (2, True, 4), (2, True, 6)]


def test_a_dataset_is_the_prefix_of_any_larger_one():
    keys = jax.random.split(jax.random.key(7), 8)
    X2, y2 = _draw(keys, 2, 2)
    X6, y6 = _draw(keys, 6, 2)
    np.testing.assert_array_equal(np.asarray(X2), np.asarray(X6)[:, :2])
    np.testing.assert_array_equal(np.asarray(y2), np.asarray(y6)[:, :2])
    assert len({tuple(x) for x in np.asarray(X6).reshape(-1, 2)}) == 8 * 6  # all distinct
    assert set(np.unique(np.asarray(y6))) == {-1.0, 1.0}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("cover_capacity")
    out = root / "figures"
    with pytest.MonkeyPatch.context() as mp, Store(root / "store.sqlite") as store:
        mp.setitem(cc.SCALES, "quick", TINY)
        first = cc.run(store, "quick", progress=False)

        def refuse(*args, **kwargs):
            raise AssertionError("a resumed run computed something")
        mp.setattr(cc, "measure", refuse)
        second = cc.run(store, "quick", progress=False)
        runs = cc.compute(store, "quick", progress=False)
        paths = cc.render(store, runs, str(out))
        records = store.records(runs[cc.NAME])
    return dict(first=first, second=second, out=out, paths=paths, records=records)


def test_tiny_run_resumes(tiny):
    assert tiny["first"].computed == 6 * 8 and tiny["first"].skipped == 0
    assert tiny["second"].computed == 0 and tiny["second"].skipped == 6 * 8
    assert len(tiny["records"]) == 6 * 8


def test_records_are_the_lp_exact_decisions(tiny):
    """Every record equals a fresh LP decision on the same dataset (drawn again from its key),
    and the screen only ever claimed separable datasets."""
    from jaxmem.sweep.keys import dataset_keys
    by_config = {}
    for r in tiny["records"]:
        by_config.setdefault(r["config_hash"], []).append(r)
    for group in by_config.values():
        r0 = group[0]
        cfg = {k: r0[k] for k in ("experiment", "d", "n", "affine", "seed", "data_rule",
                                  "screen_iters", "decision")}
        keys = dataset_keys(cc.SEED, cfg, [r["dataset_index"] for r in group])
        Xs, ys = _draw(keys, 6, 2)               # the largest n; each dataset is its prefix
        for X, y, r in zip(np.asarray(Xs), np.asarray(ys), group):
            n = cfg["n"]
            expected = sep.linearly_separable(X[:n], y[:n], cfg["affine"], exact=False)[0]
            assert bool(r["separable"]) == expected
            assert not (r["screen_decided"] and not r["separable"])


def test_tables_from_the_store(tiny):
    paths = tiny["paths"]
    assert sorted(paths) == sorted(str(tiny["out"] / f"cover_capacity.{e}")
                                   for e in ("png", "csv", "md"))
    with open(tiny["out"] / "cover_capacity.png", "rb") as f:
        assert f.read(8) == PNG_MAGIC
    with open(tiny["out"] / "cover_capacity.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 and list(rows[0]) == list(cc.CSV_COLUMNS)
    counts = {}
    for r in tiny["records"]:
        key = (bool(r["affine"]), int(r["n"]))
        counts[key] = counts.get(key, 0) + bool(r["separable"])
    for row in rows:
        affine, n, d = row["case"] == "affine", int(row["n"]), int(row["d"])
        assert int(row["separable"]) == counts[affine, n] and int(row["datasets"]) == 8
        assert float(row["fraction"]) == counts[affine, n] / 8
        assert Fraction(row["cover_probability"]) == Fraction(
            float(sep.cover_probability(n, d, affine)))
        assert float(row["ci_low"]) <= float(row["fraction"]) <= float(row["ci_high"])
        assert int(row["D"]) == d + affine
    # n = d = 2 points are always separable (C(2, D) = 4 = 2^2), with or without a bias.
    assert {r["separable"] for r in rows if int(r["n"]) == 2} == {"8"}
    md = (tiny["out"] / "cover_capacity.md").read_text()
    assert "| homogeneous | 2 | 3 |" in md and "| affine | 2 | 3 |" in md


def test_summary_shows_a_disagreement():
    """Hand-made records: all 40 datasets of n = 10, d = 5 separable (Cover: 1/2) is far
    outside any interval; 20 of 40 is inside."""
    def records(k, m=40):
        return [dict(affine=False, d=5, n=10, separable=i < k, screen_decided=False)
                for i in range(m)]
    (bad,) = cc.summarize(records(40))
    assert bad["cover_probability"] == 0.5 and not bad["cover_inside_ci"]
    (good,) = cc.summarize(records(20))
    assert good["cover_inside_ci"] and good["fraction"] == 0.5
    assert "inside the 95% interval at 0 of 1 points" in cc.markdown([bad])
