"""Grids: parsing, expansion, hashes and keys, and one clear error per bad entry."""

import jax
import numpy as np
import pytest

from jaxmem.sweep import GridError, config_hash, dataset_keys, load_grid, parse_grid
from jaxmem.sweep.keys import config_id
from jaxmem.sweep.runner import root_key_data, root_key_datas

BASE = dict(name="demo", construction="zhang2017", datasets=8, axes=dict(n=[4, 8], d=2))


def grid(**changes):
    spec = dict(BASE, **changes)
    return parse_grid({k: v for k, v in spec.items() if v is not None})


def test_expansion_defaults_and_order():
    g = grid(axes=dict(n=[4, 8], d=[2, 3], theta=0.05))
    configs = g.configs()
    assert [(c["n"], c["d"]) for c in configs] == [(4, 2), (4, 3), (8, 2), (8, 3)]
    assert all(c["theta"] == 0.05 for c in configs)
    first = configs[0]
    assert (first["construction"], first["data"], first["labels"], first["dtype"],
            first["seed"]) == ("zhang2017", "gaussian", "gaussian", "float64", 0)
    assert "datasets" not in first and "chunk_size" not in first
    # A binary-only construction defaults to +-1 labels.
    assert parse_grid(dict(BASE, construction="baum1988")).configs()[0]["labels"] == "sign"


def test_ranges():
    g = grid(axes=dict(n=dict(start=2, stop=20, step=6), d=dict(start=2, stop=64, num=6,
                                                                   scale="log")))
    assert g.axes["n"] == (2, 8, 14, 20)
    assert g.axes["d"] == (2, 4, 8, 16, 32, 64)
    g = grid(axes=dict(n=4, d=1, theta=dict(start=0.1, stop=0.3, num=3)))
    assert np.allclose(g.axes["theta"], (0.1, 0.2, 0.3))


def test_hash_ignores_datasets_and_chunk_size_but_not_seed():
    a = grid(datasets=8).hashes()
    assert a == grid(datasets=1000, chunk_size=4).hashes()
    assert a != grid(seed=1).hashes()
    assert len({h for h, _ in a}) == len(a)


def test_dataset_keys_match_the_runner_root():
    """The runner derives fold_in(root, i) inside its program from root_key_data; the same
    keys as dataset_keys, which --reproduce uses."""
    config = grid().configs()[1]
    root = jax.random.wrap_key_data(root_key_data(3, config))
    inside = jax.vmap(lambda i: jax.random.fold_in(root, i))(np.arange(5, dtype=np.uint32))
    outside = dataset_keys(3, config, range(5))
    assert np.array_equal(jax.random.key_data(inside), jax.random.key_data(outside))
    assert config_hash(config) == grid().hashes()[1][0]
    # The runner computes every config's root in one batched call: the same bits.
    configs = grid().configs()
    batched = root_key_datas(3, configs)
    for i, c in enumerate(configs):
        single = jax.random.key_data(jax.random.fold_in(jax.random.key(3), config_id(c)))
        assert np.array_equal(batched[i], np.asarray(single))


def test_toml_round_trip(tmp_path):
    path = tmp_path / "g.toml"
    path.write_text('name = "t"\nconstruction = "bubeck2020"\ndatasets = 4\nseed = 7\n'
                    'chunk_size = 2\n[axes]\nn = [5, 10]\nd = { start = 1, stop = 3, step = 1 }\n'
                    'shuffle = true\n')
    g = load_grid(str(path))
    assert g.name == "t" and g.seed == 7 and g.chunk_size == 2 and len(g.configs()) == 6
    assert parse_grid(g.to_dict()) == g


@pytest.mark.parametrize("changes, message", [
    (dict(construction="zhang2018"), "unknown construction 'zhang2018'"),
    (dict(data="uniform"), "unknown data 'uniform'"),
    (dict(labels="binary"), "unknown labels 'binary'"),
    (dict(construction="baum1988", labels="gaussian"), "labels must be \"sign\""),
    (dict(dtype="float16"), "unknown dtype 'float16'"),
    (dict(datasets=0), "datasets must be a positive integer"),
    (dict(datasets=2.5), "datasets must be a positive integer"),
    (dict(seed=-1), "seed must be a non-negative integer"),
    (dict(chunk_size=0), "chunk_size must be a positive integer"),
    (dict(axes=dict(n=[4], d=2, width=3)), "unknown parameter 'width' for construction zhang2017"),
    (dict(axes=dict(n=[4])), "axes must give d"),
    (dict(axes=dict(n=[4, 0], d=2)), "n must be a positive integer"),
    (dict(axes=dict(n=[4], d=2, theta=1.5)), "theta must lie in (0, 1)"),
    (dict(axes=dict(n=[4, 4], d=2)), "lists a value twice"),
    (dict(axes=dict(n=[], d=2)), "empty list"),
    (dict(axes=dict(n=dict(start=1, stop=4), d=2)), "a range is"),
    (dict(construction="zhang2017.depth_k", axes=dict(n=4, d=2, k=5)), "exceeds n = 4"),
    (dict(name=""), "name must be a non-empty string"),
    (dict(name=None), "missing entry 'name'"),
    (dict(step=3), "unknown entry 'step'"),
])
def test_bad_grids(changes, message):
    with pytest.raises(GridError) as err:
        grid(**changes)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_bad_files(tmp_path):
    with pytest.raises(GridError, match="does not exist"):
        load_grid(str(tmp_path / "missing.toml"))
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "t"\nconstruction = \n')
    with pytest.raises(GridError, match="is not valid TOML"):
        load_grid(str(bad))
