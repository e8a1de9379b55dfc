"""Every registered construction and data family runs from a grid: the construction's own
tiny example grid through the sweep engine into a store, and every data family under a
construction that accepts its labels. New registrations are covered without editing this file."""

import os

import numpy as np
import pytest
import jax

from jaxmem.cli import main
from jaxmem.constructions import protocol
from jaxmem.data import families
from jaxmem.store import Store
from jaxmem.sweep import parse_grid, run_sweep, trials

CONSTRUCTIONS = [c.name for c in protocol.CONSTRUCTIONS.all()]
FAMILIES = [f.name for f in families.DATA_FAMILIES.all()]
REAL_DATA = {"mnist", "cifar10", "mnist_1v8", "mnist_1v9"}   # files a test machine lacks


def _example_grid(name: str, datasets: int = 2):
    entry = protocol.CONSTRUCTIONS.get(name)
    assert entry.example is not None, f"construction {name} declares no example grid"
    return parse_grid(dict(name=f"example-{name}", construction=name, datasets=datasets,
                           **entry.example))


@pytest.mark.slow
@pytest.mark.parametrize("name", CONSTRUCTIONS)
def test_each_construction_sweeps_its_example_grid(name, tmp_path):
    grid = _example_grid(name)
    with Store(tmp_path / "s.sqlite") as store:
        stats = run_sweep(grid, store, progress=False, exact_budget=0)
        records = store.dataframe(stats.run_id)
    assert stats.computed == len(grid.configs()) * grid.datasets == len(records)
    assert records["ok"].notna().all()
    entry = protocol.CONSTRUCTIONS.get(name)
    if entry.trial is None:      # the generic measurement reports the standard info
        for key in protocol.STANDARD_INFO:
            assert records[key].notna().all(), key
        assert (records["param_count"] >= records["nonzero_param_count"]).all()


@pytest.mark.parametrize("name", CONSTRUCTIONS)
def test_each_builder_follows_the_protocol(name):
    """(key, X, y, **options) -> (net, info): net has apply, info the standard keys.

    A host builder runs on the host with NumPy arrays. Any other is traced by the sweep, so
    it is traced here as the sweep traces it (static options static, traced ones traced, the
    data drawn in the same trace): the net's type and the info's keys are fixed by the trace,
    so it is evaluated abstractly (jax.eval_shape), without the seconds of compiling or of
    op-by-op dispatch. Running it is left to the sweep test above (each construction's trial,
    compiled on this grid) and to the construction's own test module (its eager call, with
    the checks on concrete input)."""
    entry = protocol.CONSTRUCTIONS.get(name)
    config = _example_grid(name).configs()[0]
    family = trials.family_of(config)
    static, dynamic = trials.split_options(config)

    def draw(key):
        if family.fixed:
            return tuple(trials.data_arguments(config).values())
        return family.draw(key, config["n"], config["d"], labels=config["labels"],
                           dtype=np.dtype(config["dtype"]), **dict(trials.data_options(config)))

    if entry.host:
        # the data as the sweep's host trial draws them, with its compiled draw (the sweep
        # test above compiled it for this config; dispatched op by op, the draw compiles
        # every op of it again, ~0.5-1.5 s)
        arguments = trials.static_arguments(config)
        del arguments["construction"]
        draw_data = trials._host_dataset_program(tuple(sorted(arguments.items())))
        data = draw_data(jax.random.key(0), dict(dynamic, **trials.data_arguments(config)))
        X, y = (np.asarray(a) for a in data)
        net, info = entry.build(jax.random.key(1), X, y, **dict(static), **dynamic)
        info = protocol.standard_info(net, info)
    else:
        def draw_and_build(data_key, key, dynamic):
            X, y = draw(data_key)
            net, info = entry.build(key, X, y, **dict(static), **dynamic)
            return net, protocol.standard_info(net, info)
        net, info = jax.eval_shape(draw_and_build, jax.random.key(0), jax.random.key(1), dynamic)
    if net is not None:
        assert isinstance(net, protocol.Net)
    assert set(protocol.STANDARD_INFO) <= set(info), info.keys()


def _family_grid(family: families.DataFamily) -> dict:
    construction = "baum1988" if family.labels == ("sign",) else "zhang2017"
    if "class" in family.labels:
        construction = "genzel2023.multiclass"
    axes = dict(n=12) if family.fixed else dict(n=12, d=family.dim or 3)
    if construction.startswith("genzel"):
        axes["width"] = 16
    return dict(name=f"family-{family.name}", construction=construction, data=family.name,
                datasets=2, axes=axes)


@pytest.mark.parametrize("name", [f for f in FAMILIES if f not in REAL_DATA])
def test_each_data_family_runs_under_a_construction(name, tmp_path):
    family = families.DATA_FAMILIES.get(name)
    grid = parse_grid(_family_grid(family))
    config = grid.configs()[0]
    assert config["d"] == (family.dim or 3)
    if not family.fixed:     # a fresh dataset per key, of the declared shape and labels
        # compiled, as a sweep draws it (op by op, every op of the draw compiles on its own)
        draw = jax.jit(lambda key: family.draw(
            key, 12, config["d"], labels=config["labels"], dtype=np.dtype("float64"),
            **dict(trials.data_options(config))))
        X, y = draw(jax.random.key(3))
        assert X.shape == (12, config["d"]) and y.shape == (12,)
        assert np.all(np.isfinite(np.asarray(X)))
        if config["labels"] == "sign":
            assert set(np.unique(np.asarray(y)).tolist()) <= {-1.0, 1.0}


def test_sweep_list_names_every_construction_and_family(capsys):
    assert main(["sweep", "--list"]) == 0
    out = capsys.readouterr().out
    for name in CONSTRUCTIONS + FAMILIES:
        assert f"  {name} " in out, name


def test_a_fixed_dataset_needs_no_shape_axes():
    grid = parse_grid(dict(name="m", construction="genzel2023", data="moons", datasets=2,
                           axes=dict(width=8)))
    (config,) = grid.configs()
    assert (config["n"], config["d"]) == (1000, 2)


def test_a_users_file_is_a_fixed_dataset_fingerprinted(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(10, 3))
    y = np.where(rng.normal(size=10) > 0, 1.0, -1.0)
    path = tmp_path / "points.npz"
    np.savez(path, X=X, y=y)
    spec = dict(name="f", construction="bubeck2020", data=f"file:{path}", datasets=2, axes={})
    grid = parse_grid(spec)
    (config,) = grid.configs()
    assert (config["n"], config["d"], config["labels"]) == (10, 3, "sign")
    before = config["data_fingerprint"]
    with Store(tmp_path / "s.sqlite") as store:
        stats = run_sweep(grid, store, progress=False)
        assert stats.computed == 2 and store.dataframe(stats.run_id)["ok"].all()
    np.savez(path, X=X * 2, y=y)                 # another file under the same name
    os.utime(path, ns=(1, 1))     # a distinct mtime even on a file system with coarse clocks
    assert parse_grid(spec).configs()[0]["data_fingerprint"] != before
    np.savez(path, X=np.where(np.arange(30).reshape(10, 3) == 4, np.nan, X), y=y)
    os.utime(path, ns=(2, 2))
    with pytest.raises(ValueError, match="row 1 of X is not finite"):
        parse_grid(spec)


@pytest.mark.parametrize("name", CONSTRUCTIONS)
def test_sweep_example_prints_a_grid_that_parses(name, capsys):
    import tomllib
    assert main(["sweep", "--example", name]) == 0
    grid = parse_grid(tomllib.loads(capsys.readouterr().out))
    assert grid.construction == name and grid.datasets == 16
    assert grid.configs() == _example_grid(name, datasets=16).configs()


def test_a_host_construction_refuses_a_distributed_sweep(tmp_path):
    grid = _example_grid("bubeck2020.exact")
    with pytest.raises(ValueError, match="runs on the host .* cannot shard it"):
        run_sweep(grid, None, distributed=True, progress=False)
