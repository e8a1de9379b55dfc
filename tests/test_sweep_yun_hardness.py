"""yun2019, yun2019.exact and yu2024.hardness_witness swept through the engine: the records say
what the theorems are about (ok = it memorized), flip when the theorem is broken on purpose
(an ablated construction, a wrong option, data outside the hypotheses), and their parameter
counts are the modules' formulas."""

import numpy as np
import pytest

from jaxmem.constructions import yu2024_hardness as H
from jaxmem.constructions import yun2019
from jaxmem.store import Store
from jaxmem.sweep import parse_grid, run_sweep


def _sweep(tmp_path, **spec):
    grid = parse_grid(dict(name=f"t-{spec['construction']}", **spec))
    with Store(tmp_path / "s.sqlite") as store:
        stats = run_sweep(grid, store, progress=False, exact_budget=0)
        records = store.dataframe(stats.run_id)
    assert stats.computed == len(grid.configs()) * grid.datasets == len(records)
    return records


@pytest.mark.slow
def test_yun2019_sweep_memorizes_flips_without_parity_and_counts_the_table(tmp_path):
    """q = 4 (even): correct_parity=False puts every output at y + A, so ok flips; the dense
    parameter count is the size table's (yun2019.param_count), for both activations."""
    n, d, q = 12, 3, 4
    records = _sweep(tmp_path, construction="yun2019", data="gaussian", labels="gaussian",
                     datasets=2, axes=dict(n=n, d=d, q=q, activation=["relu", "hardtanh"],
                                           correct_parity=[True, False]))
    for _, r in records.iterrows():
        assert bool(r["valid"]) and not bool(r["undecided"])
        assert bool(r["ok"]) == bool(r["correct_parity"]), r.to_dict()
        assert r["param_count"] == yun2019.param_count(n, d, q, r["activation"])
        assert r["table_param_count"] == r["param_count"]
        assert r["hidden_units"] == sum(yun2019.widths(n, q, r["activation"]))


@pytest.mark.slow
def test_yun2019_exact_sweep_memorizes_exactly_and_flips_without_parity(tmp_path):
    n, d, q = 10, 2, 4
    records = _sweep(tmp_path, construction="yun2019.exact", data="gaussian",
                     labels="gaussian", datasets=2,
                     axes=dict(n=n, d=d, q=q, activation=["relu", "hardtanh"],
                               correct_parity=[True, False], direction=["best", "integer"]))
    for _, r in records.iterrows():
        assert bool(r["valid"])
        assert bool(r["ok"]) == bool(r["interpolates"]) == bool(r["correct_parity"])
        assert r["param_count"] == yun2019.param_count(n, d, q, r["activation"])
        assert r["table_param_count"] == r["param_count"]


@pytest.mark.slow
def test_gadget_sweep_memorizes_with_n_plus_8_parameters_and_flips(tmp_path):
    """Planted (reversible, satisfiable) formulas: the witness memorizes D(phi) with the
    paper's n + 8 parameters. Broken on purpose: a random assignment (solve=false) instead of
    an NAE one, and data outside the theorem (planted=false with all 32 clause pairs on six
    variables: reversible but unsatisfiable, no witness)."""
    d = 6
    records = _sweep(tmp_path, construction="yu2024.hardness_witness", data=H.GADGET_FAMILY,
                     datasets=6, axes=dict(n=4 * d + 2 * 8, d=d, solve=[True, False]))
    good, wrong = records[records["solve"]], records[~records["solve"]]
    assert good["ok"].all() and good["valid"].all() and good["memorizes"].all()
    assert good["complement_closed"].all() and good["satisfiable"].all()
    assert (good["param_count"] == H.witness_param_count(d)).all()
    assert (good["param_count"] == H.architecture_param_count(d, (1, 2))).all()
    assert (good["clauses"] == 16).all()
    assert wrong["valid"].all() and not wrong["ok"].all()
    assert (wrong["ok"] == wrong["assignment_nae"]).all()

    unsat = _sweep(tmp_path, construction="yu2024.hardness_witness", data=H.GADGET_FAMILY,
                   datasets=2, axes=dict(n=4 * d + 2 * 32, d=d, planted=False))
    assert not unsat["ok"].any() and not unsat["valid"].any()
    assert not unsat["satisfiable"].any() and unsat["complement_closed"].all()
    assert (unsat["clauses"] == 64).all() and (unsat["param_count"] == 0).all()


def test_gadget_grid_checks_n_against_d_before_running():
    for n, match in [(25, "odd"), (20, "negative"), (24 + 2 * 32, "there are C\\(d, 6\\) x 31")]:
        with pytest.raises(ValueError, match=match):
            parse_grid(dict(name="g", construction="yu2024.hardness_witness",
                            data=H.GADGET_FAMILY, datasets=1, axes=dict(n=n, d=6)))
    with pytest.raises(ValueError, match="d <= 16"):
        parse_grid(dict(name="g", construction="yu2024.hardness_witness",
                        data=H.GADGET_FAMILY, datasets=1, axes=dict(n=68, d=17)))
    grid = parse_grid(dict(name="g", construction="yu2024.hardness_witness",
                           data=H.GADGET_FAMILY, datasets=1, axes=dict(n=88, d=6,
                                                                       planted=False)))
    assert np.shape(grid.configs()) == (1,)
