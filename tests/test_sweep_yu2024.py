"""Yu et al. 2024's constructions through the sweep engine (yu2024.m1, yu2024.thm5_3): the
records say whether the training set was memorized and how large the network is, the counts
follow the module's formulas, and a broken hypothesis or option turns ok off."""

import numpy as np
import pandas as pd
import pytest

from jaxmem.constructions import yu2024
from jaxmem.store import Store
from jaxmem.sweep import parse_grid, run_sweep


def _records(tmp_path, **spec):
    grid = parse_grid(dict(name="yu", datasets=4, **spec))
    with Store(tmp_path / f"{len(list(tmp_path.glob('*.sqlite')))}.sqlite") as store:
        stats = run_sweep(grid, store, progress=False)
        return store.dataframe(stats.run_id)


def _conflicting_file(tmp_path):
    """Points in general position, except one point repeated with the other label: no
    D(n, c) with c > 0 holds it (Definition 3.1), so no memorizer can exist."""
    rng = np.random.default_rng(0)
    X = rng.random((10, 3))
    y = np.where(np.arange(10) % 2 == 0, 1.0, -1.0)
    X[1] = X[0]
    path = tmp_path / "conflict.npz"
    np.savez(path, X=X, y=y)
    return f"file:{path}"


@pytest.mark.slow
def test_m1_memorizes_and_its_counts_are_the_formulas(tmp_path):
    # Two (n, d) pairs, not the 2 x 2 product: each is a compiled program (~3-5 s) and the
    # counts' formulas vary with n_pos, n_neg (every dataset draws its own) and d alike.
    # (24, 3) is test_m1_breaks_below_split_one_percent's program (split is traced): shared.
    records = pd.concat([_records(tmp_path, construction="yu2024.m1", data="cube",
                                  axes=dict(n=n, d=d)) for n, d in ((10, 2), (24, 3))])
    assert len(records) == 8 and records["ok"].all() and records["valid"].all()
    assert set(zip(records["n"], records["d"])) == {(10, 2), (24, 3)}
    assert records["margins_ok"].all() and records["boundary_ok"].all()
    for row in records.itertuples():
        counts = yu2024.param_counts(int(row.n_pos), int(row.n_neg), int(row.d))
        assert row.param_count == counts["dense_param_count"]
        assert row.paper_param_count == counts["sparse_param_count"]
        assert row.hidden_units == counts["pair_units"] + counts["point_units"]
        # Uniform points share no coordinate and no bias c_ij is 0: every parameter of the
        # paper's sparse count is nonzero but the output bias.
        assert row.nonzero_param_count == counts["sparse_param_count"] - 1


@pytest.mark.slow
def test_m1_counts_zeros_on_lattice_data(tmp_path):
    """Checkerboard points repeat and share coordinates: some first-layer weights are 0."""
    records = _records(tmp_path, construction="yu2024.m1", data="checkerboard",
                       axes=dict(n=12, d=2, side=3))
    assert records["ok"].all()
    sparse = [yu2024.param_counts(int(r.n_pos), int(r.n_neg), 2)["sparse_param_count"]
              for r in records.itertuples()]
    assert (records["nonzero_param_count"] < np.array(sparse) - 1).all()


@pytest.mark.slow
def test_m1_breaks_below_split_one_percent_and_on_conflicting_points(tmp_path):
    # a_ki(x_i) = split ||x_i - x_k||^2 falls below r: opposite units survive at x_i.
    broken = _records(tmp_path, construction="yu2024.m1", data="cube",
                      axes=dict(n=24, d=3, split=0.001))
    assert broken["valid"].all() and not broken["ok"].all()
    assert not broken["margins_ok"].all()
    # At 0.5 every training point is still memorized; the cell boundaries fail (Lemma H.3).
    half = _records(tmp_path, construction="yu2024.m1", data="cube",
                    axes=dict(n=24, d=3, split=0.5))
    assert half["ok"].all() and not half["boundary_ok"].any()
    conflict = _records(tmp_path, construction="yu2024.m1", data=_conflicting_file(tmp_path),
                        axes={})
    assert not conflict["valid"].any() and not conflict["ok"].any()


@pytest.mark.slow
def test_thm5_3_memorizes_and_its_counts_are_the_formula(tmp_path):
    # Two (n, tries) pairs, not the 2 x 2 product (tries is static: each pair is a compiled
    # program, ~3-5 s); both sizes and both option values still memorize.
    records = pd.concat([_records(tmp_path, construction="yu2024.thm5_3", data="slabs",
                                  axes=dict(n=n, d=3, tries=tries))
                         for n, tries in ((12, 1), (20, 8))])
    assert len(records) == 8 and records["ok"].all() and (records["min_gap"] > 0).all()
    assert set(zip(records["n"], records["tries"])) == {(12, 1), (20, 8)}
    assert ((records["encoded_fraction"] > 0) & (records["encoded_fraction"] <= 1)).all()
    for row in records.itertuples():
        assert row.param_count == yu2024.projection_param_count(int(row.encoded_points), 3)
        assert row.nonzero_param_count == row.param_count - 1      # the projection's bias
        assert 2 * row.encoded_points >= row.n                     # the majority label
    conflict = _records(tmp_path, construction="yu2024.thm5_3",
                        data=_conflicting_file(tmp_path), axes={})
    assert not conflict["valid"].any() and not conflict["ok"].any()


def test_bad_options_are_refused_before_compiling(tmp_path):
    for construction, axes, message in (("yu2024.m1", dict(split=0.0), "split"),
                                        ("yu2024.m1", dict(split=1.5), "split"),
                                        ("yu2024.thm5_3", dict(tries=0), "tries")):
        with pytest.raises(ValueError, match=message):
            _records(tmp_path, construction=construction, data="cube",
                     axes=dict(n=8, d=2, **axes))
