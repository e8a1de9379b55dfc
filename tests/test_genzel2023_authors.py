"""The two-moons comparison with Dirksen, Finke and Genzel's released results."""

import numpy as np
import pandas as pd
import pytest

from jaxmem.experiments import genzel2023_authors as authors
from jaxmem.experiments import genzel2023_moons as moons


@pytest.fixture(scope="module")
def theirs():
    return authors.authors_cells("moons")


def test_the_shipped_table_is_their_full_moons_grid(theirs):
    full = moons.SCALES["full"]
    assert len(theirs) == len(full["widths"]) * len(full["lambdas"]) == 2550
    assert set(theirs["n"]) == set(full["widths"])
    assert np.allclose(sorted(set(theirs["max_bias"])), full["lambdas"])
    assert (theirs["restarts"] == 50).all()
    assert (theirs["interpolated"] <= theirs["restarts"]).all()
    # Their dummy neuron: k >= 1 in every trial.
    assert (theirs["k_min"] >= 1).all()
    # The paper's headline on moons, in their own numbers: lambda = 0 never interpolates.
    assert theirs.loc[theirs["max_bias"] == 0, "interpolated"].sum() == 0
    # Every cell of both of jaxmem's scales is in their table.
    for scale in ("quick", "full"):
        size = moons.SCALES[scale]
        for n in size["widths"]:
            for lam in size["lambdas"]:
                assert ((theirs["n"] == n) & np.isclose(theirs["max_bias"], lam)).sum() == 1


def sampled_records(theirs, restarts, rng, *, lambda_of=lambda lam: lam):
    """Per-trial records drawn from their cells: interpolation ~ Bernoulli(their P) and k
    from a normal of their mean and sd (rounded, >= 0), taken at lambda_of(lambda)."""
    by_cell = {(int(r.n), round(float(r.max_bias), 4)): r for r in theirs.itertuples()}
    records = []
    for (n, lam) in by_cell:
        source = by_cell.get((n, round(lambda_of(lam), 4)))
        if source is None:
            continue
        p = source.interpolated / source.restarts
        for _ in range(restarts):
            k = max(0.0, round(rng.normal(source.k_mean, source.k_sd or 0.0)))
            records.append(dict(width=n, max_bias=lam, interpolated=bool(rng.random() < p),
                                second_layer_width=k))
    return records


def test_draws_from_their_own_cells_agree_and_a_shifted_lambda_does_not(theirs):
    rng = np.random.default_rng(0)
    same = authors.compare(authors.jaxmem_cells(sampled_records(theirs, 50, rng)), theirs)
    s = authors.summary(same)
    assert s["cells"] == 2550
    assert s["within_p"] > 0.97 and s["within_k"] > 0.95
    # A systematic error: the bias range halved (lambda read as lambda / 2): whole regions
    # move out of the 99% interval and n99 differs at most lambdas.
    halved = authors.compare(authors.jaxmem_cells(sampled_records(
        theirs, 50, rng, lambda_of=lambda lam: round(round(lam / 2 / 0.05) * 0.05, 4))), theirs)
    h = authors.summary(halved)
    assert h["within_p"] < s["within_p"] - 0.1
    assert h["n99"]["mean_abs"] > 3 * s["n99"]["mean_abs"]
    # Cells outside the interval: as many as chance gives, and far more than chance.
    assert s["chance_p"]["p"] > 0.01 and s["chance_k"]["p"] > 0.01
    assert h["chance_p"]["p"] < 1e-6 and h["chance_k"]["p"] < 1e-6
    assert "more than chance gives" in authors.markdown(halved)
    assert h["n99_smoothed"]["mean_abs"] > 3 * s["n99_smoothed"]["mean_abs"]


def test_z_scores():
    z = authors.two_proportion_z([0, 50, 10, 25], [50, 50, 50, 50], [0, 50, 40, 25],
                                 [50, 50, 50, 50])
    assert z[0] == 0 and z[1] == 0 and z[3] == 0
    pooled = 50 / 100
    assert z[2] == pytest.approx((0.2 - 0.8) / np.sqrt(pooled * pooled * 2 / 50))
    k = authors.welch_z([2.0, 1.0, 1.0], [1.0, 0.0, 0.0], [8, 8, 8], [1.0, 1.0, 2.0],
                        [2.0, 0.0, 0.0], [50, 50, 50])
    assert k[0] == pytest.approx(1 / np.sqrt(1 / 8 + 4 / 50))
    assert k[1] == 0 and k[2] == -np.inf


def test_their_dummy_neuron_convention_is_applied_to_jaxmem(theirs):
    records = [dict(width=10, max_bias=0.0, interpolated=False, second_layer_width=k)
               for k in (0, 0, 1, 3)]
    cells = authors.jaxmem_cells(records)
    assert cells["k_mean"].item() == 1.0 and cells["k_dummy_mean"].item() == 1.5
    table = authors.compare(cells, theirs)
    assert table["k_jaxmem_dummy"].item() == 1.5 and table["k_jaxmem"].item() == 1.0


def test_a_cell_they_lack_is_named(theirs):
    records = [dict(width=15, max_bias=0.0, interpolated=False, second_layer_width=1)]
    with pytest.raises(ValueError, match=r"no cell n = 15, lambda = 0.0"):
        authors.compare(authors.jaxmem_cells(records), theirs)


def test_markdown_reports_the_shares(theirs):
    rng = np.random.default_rng(1)
    table = authors.compare(authors.jaxmem_cells(sampled_records(theirs, 20, rng)), theirs)
    text = authors.markdown(table)
    s = authors.summary(table)
    assert f"**{s['within_p']:.1%}** of the cells within the 99% interval" in text
    n99_section = text.split("## n99 per \u03bb")[1].split("## Every cell")[0]
    assert n99_section.count("\n| ") == 1 + len(s["n99_jaxmem"])  # header + a row per lambda
    assert isinstance(table, pd.DataFrame) and list(table.columns) == list(authors.COLUMNS)


def test_fisher_exact_matches_scipy():
    from scipy import stats

    tables = [(0, 50, 7, 50), (22, 50, 36, 50), (50, 50, 50, 50), (3, 8, 40, 50), (10, 25, 5, 40)]
    ours = authors.fisher_exact_p(*zip(*tables))
    for (a, na, b, nb), p in zip(tables, ours):
        assert p == pytest.approx(stats.fisher_exact([[a, na - a], [b, nb - b]])[1], rel=1e-9)


def _outside_rows(text):
    return [line for line in text.split("## Every cell")[1].splitlines()
            if line.startswith("| P |") or line.startswith("| k |")]


def test_every_cell_outside_is_listed_and_explained(theirs):
    rng = np.random.default_rng(2)
    table = authors.compare(authors.jaxmem_cells(sampled_records(theirs, 50, rng)), theirs)
    text = authors.markdown(table, theirs)
    outside = int((table["z_p"].abs() > authors.Z99).sum()
                  + (table["z_k"].abs() > authors.Z99).sum())
    assert outside > 0
    rows = _outside_rows(text)
    assert len(rows) == outside
    # Draws from their own cells: every cell outside is noise, isolated on the grid.
    assert all("isolated" in row and row.rstrip(" |").endswith("chance") for row in rows)
    assert "no region holds more than chance gives" in text


def test_a_shifted_region_is_flagged(theirs):
    """Broken on purpose: jaxmem's networks never interpolate in one block of the grid
    (widths 110-200, lambda 0.5-1): the region check and the explanations say so."""
    rng = np.random.default_rng(3)
    records = sampled_records(theirs, 50, rng)
    for r in records:
        if 110 <= r["width"] <= 200 and 0.5 <= r["max_bias"] <= 1.0:
            r["interpolated"] = False
    table = authors.compare(authors.jaxmem_cells(records), theirs)
    s = authors.summary(table)
    assert s["region_p"]["p_bonferroni"] < 1e-6
    assert s["region_p"]["widths"] == (101, 200) and s["region_p"]["lambdas"] == (0.5, 1.0)
    assert s["signs_p"]["below"] > 3 * s["signs_p"]["above"] and s["signs_p"]["p"] < 0.01
    text = authors.markdown(table, theirs)
    assert "a region holds more than chance gives" in text
    shifted = [row for row in _outside_rows(text) if "a region, look for a systematic" in row]
    assert len(shifted) >= 20


def test_the_dummy_neuron_is_named_where_it_matters(theirs):
    # A small-n cell where jaxmem accepted no neuron in half its restarts.
    records = [dict(width=10, max_bias=2.5, interpolated=False, second_layer_width=k)
               for k in [0] * 25 + [9] * 25]
    cells = authors.jaxmem_cells(records)
    table = authors.compare(cells, theirs)
    (row,) = authors.outside_cells(table, theirs).itertuples()
    assert row.quantity == "k" and "accepted no neuron in 50% of its restarts" in row.explanation
