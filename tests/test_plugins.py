"""Open registries: plugins by --include and by entry point, the built-in papers as plugins,
the installed layout (verify/ and experiments/ live under jaxmem, jaxmem/ imports neither)."""

import ast
import json
import os
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import jaxmem
from jaxmem import claims as C
from jaxmem import experiment, registry
from jaxmem.constructions import protocol
from jaxmem.sweep import GridError, parse_grid

REPO = Path(__file__).resolve().parents[1]

PLUGIN = textwrap.dedent('''
    import jax
    import jax.numpy as jnp

    from jaxmem.claims import Universal, claim
    from jaxmem.constructions.protocol import construction
    from jaxmem.network import Layer, Network

    GRID = [dict(n=4, datasets=6)]  # one config: one compiled program per claim


    @claim("plugin.uniform_sum", statement="a sum of uniform draws is positive",
           grids=dict(quick=GRID, full=GRID), rule=Universal())
    def uniform_sum(key, n):
        return dict(ok=jnp.sum(jax.random.uniform(key, (n,))) > 0)


    @claim("plugin.normal_sum", statement="a sum of normal draws is positive (false)",
           grids=dict(quick=GRID, full=GRID), rule=Universal())
    def normal_sum(key, n):
        total = jnp.sum(jax.random.normal(key, (n,)))
        return dict(ok=total > 0, total=total)


    @construction("plugin.zero", citation="the zero network (fits nothing)",
                  example=dict(data="gaussian", axes=dict(n=4, d=2)))
    def zero_network(key, X, y):
        d = X.shape[1]
        return Network((Layer(jnp.zeros((d, 1), X.dtype), jnp.zeros(1, X.dtype),
                              activation="identity"),)), {}


    def plain_builder(key, X, y):
        return zero_network(key, X, y)
''')


def _jaxmem(*args, cwd, env=None):
    env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "jaxmem.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


# Several `jaxmem` commands in one fresh process, one after another (each process costs a
# JAX import and the plugins' imports, ~3 s here): each command's exit code, stdout and stderr
# as `jaxmem.cli.main` returns and prints them. `python -c` puts the working directory first
# on sys.path, as `python -m jaxmem.cli` does. The first command sees a fresh process; later
# ones see what the earlier ones imported and registered, so a test puts first the command
# whose loading it checks. A step that is a dict instead of an argv goes to `other_step`,
# which a test may define (`cli_session`): test_reliability's copies a store between commands.
_CLI_SESSION = textwrap.dedent('''
    import contextlib, io, json, sys
    from jaxmem.cli import main
    OTHER_STEP
    results = []
    for argv in json.loads(sys.argv[1]):
        if isinstance(argv, dict):
            results.append(other_step(argv))
            continue
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = main(argv)
            except SystemExit as exit:   # argparse's usage errors
                rc = exit.code
        results.append(dict(returncode=rc, stdout=out.getvalue(), stderr=err.getvalue()))
    with open(sys.argv[2], "w") as f:
        json.dump(results, f)
''')


def cli_session(other_step: str = "") -> str:
    """The session script; `other_step`: source defining other_step(step) -> dict(returncode,
    stdout, stderr) for the dict steps (none by default: a dict step is an error)."""
    default = "def other_step(step):\n    raise ValueError(f'no step {step!r}')"
    return _CLI_SESSION.replace("OTHER_STEP", textwrap.dedent(other_step) or default)


CLI_SESSION = cli_session()


def _jaxmem_session(*commands, cwd, env=None, results):
    env = dict(os.environ, **(env or {}))
    done = subprocess.run([sys.executable, "-c", CLI_SESSION, json.dumps(commands), str(results)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return [subprocess.CompletedProcess(argv, r["returncode"], r["stdout"], r["stderr"])
            for argv, r in zip(commands, json.loads(Path(results).read_text()))]


def _imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and "." in node.value and " " not in node.value:
            names.add(node.value)      # importlib.import_module("pkg.mod") by name
    return names


def test_jaxmem_imports_nothing_from_verify_or_experiments():
    forbidden = ("verify", "experiments", "jaxmem.verify", "jaxmem.experiments")
    offenders = []
    for path in sorted((REPO / "jaxmem").rglob("*.py")):
        for name in _imported_modules(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                offenders.append(f"{path.relative_to(REPO)}: {name}")
    assert offenders == []


def test_the_built_in_papers_register_through_the_entry_point():
    assert {"jaxmem.verify", "jaxmem.experiments"} <= {
        ep.value for ep in registry.plugin_entry_points()}
    assert C.CLAIMS.origin("zhang2017.thm1") == "jaxmem.verify.zhang2017"
    assert registry.is_installed_plugin("jaxmem.verify.zhang2017")
    assert len(C.all_claims()) >= 45 and len(experiment.all_experiments()) >= 14
    # installed under jaxmem: the repository's folders, not top-level packages
    import jaxmem.verify
    assert Path(jaxmem.verify.__file__).parent.name == "verify"


def test_registering_an_id_twice_names_both_modules():
    with pytest.raises(registry.PluginError, match="registered twice: by jaxmem.verify.zhang2017 "
                                                   "and by tests.test_plugins"):
        C.register(C.get("zhang2017.thm1"))
    with pytest.raises(registry.PluginError, match="takes Claim objects"):
        C.register("zhang2017.thm1")
    with pytest.raises(registry.PluginError, match="lacks REGENERATES, grids, render"):
        experiment.register_experiment(type("Half", (), {"NAME": "half"}))
    with pytest.raises(KeyError, match="unknown claim 'no.such'; known: zhang2017.thm1"):
        C.get("no.such")


def test_include_imports_a_file_and_a_folder_under_private_names(tmp_path):
    # A user's file named verify.py and a folder named experiments shadow nothing.
    (tmp_path / "verify.py").write_text(PLUGIN)
    folder = tmp_path / "experiments"
    folder.mkdir()
    (folder / "mine.py").write_text(PLUGIN.replace("plugin.", "folder.").replace(
        '@construction("folder.zero"', '@construction("folder.zero2"'))
    (folder / "helper.py").write_text("VALUE = 3\n")
    (folder / "uses_helper.py").write_text("from .helper import VALUE\nassert VALUE == 3\n")
    try:
        names = registry.include(tmp_path / "verify.py")
        assert names[0].startswith(registry.INCLUDED_PREFIX) and names[0].endswith(".verify")
        assert registry.include(tmp_path / "verify.py") == names     # a second include: nothing
        assert len(registry.include(folder)) == 3
        assert {"plugin.uniform_sum", "folder.normal_sum"} <= set(C.CLAIMS.names())
        assert registry.included_path(C.CLAIMS.origin("folder.normal_sum")) == str(folder)
        import jaxmem.verify  # still jaxmem's
        assert jaxmem.verify.__name__ == "jaxmem.verify" and "verify" not in sys.modules
        assert C.run_claim(C.get("plugin.uniform_sum")).verdict == "HOLDS"
        res = C.run_claim(C.get("plugin.normal_sum"), chunk_size=8)
        assert res.verdict == "VIOLATED"
        assert f"--include {tmp_path / 'verify.py'} --reproduce plugin.normal_sum" in res.detail
        assert "--chunk-size 8" in res.detail
    finally:
        for claim_id in ("plugin.uniform_sum", "plugin.normal_sum", "folder.uniform_sum",
                         "folder.normal_sum"):
            C.CLAIMS.remove(claim_id, missing_ok=True)
        for name in ("plugin.zero", "folder.zero2"):
            protocol.CONSTRUCTIONS.remove(name, missing_ok=True)


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "absent.py", "no such file or folder"),
    (lambda d: (d / "notes.txt").write_text("x") and d / "notes.txt", "expected a .py file"),
    (lambda d: (d / "broken.py").write_text("raise ValueError('bad plugin')") and d / "broken.py",
     "ValueError: bad plugin"),
])
def test_include_errors_name_the_problem(tmp_path, make, message):
    with pytest.raises(registry.PluginError, match=message):
        registry.include(make(tmp_path))


@pytest.mark.slow
def test_cli_include_runs_a_users_claim_and_its_reproduce_hint_works(tmp_path):
    (tmp_path / "mine.py").write_text(PLUGIN)
    # One process: the listing first (a fresh process includes the file), then the claim (the
    # file is already included: a second include does nothing), then a missing file.
    listed, caught, missing = _jaxmem_session(
        ["verify", "--include", "mine.py", "--list"],
        ["verify", "--include", "mine.py", "--claim", "plugin.normal_sum", "--no-store"],
        ["verify", "--include", "absent.py", "--list"],
        cwd=tmp_path, results=tmp_path / "results.json")
    assert listed.returncode == 0, listed.stderr
    assert "plugin.uniform_sum" in listed.stdout and "zhang2017.thm1" in listed.stdout

    assert caught.returncode == 1 and "VIOLATED" in caught.stdout
    hint = caught.stdout.split("reproduce with `")[1].split("`")[0]
    argv = shlex.split(hint)
    assert argv[:3] == ["jaxmem", "verify", "--include"]
    again = _jaxmem(*argv[1:], cwd=REPO)             # from elsewhere: the path is absolute
    assert again.returncode == 1 and "FAILS" in again.stdout, again.stderr

    assert missing.returncode == 2 and "no such file or folder" in missing.stderr
    assert "Traceback" not in missing.stderr


@pytest.mark.slow
def test_an_entry_point_plugin_shows_in_the_cli_and_shadows_nothing(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "mine_plugin.py").write_text(PLUGIN)
    dist = site / "mine_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mine-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[jaxmem.plugins]\nmine = mine_plugin\n")
    # A user's own verify/ and experiments/ packages in the working directory: on sys.path
    # first (python -m), and broken, they must not be what jaxmem runs.
    for shadow in ("verify", "experiments"):
        (tmp_path / shadow).mkdir()
        (tmp_path / shadow / "__init__.py").write_text("raise ImportError('the user folder')\n")
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    # Two processes, each starting with the command whose plugin loading it checks: verify
    # (which loads every plugin), and sweep (which skips the papers' claims and experiments)
    # before reproduce (which then imports the experiments itself).
    listed, caught = _jaxmem_session(["verify", "--list"],
                                     ["verify", "--claim", "plugin.normal_sum", "--no-store"],
                                     cwd=tmp_path, env=env, results=tmp_path / "verify.json")
    constructions, reproduce = _jaxmem_session(["sweep", "--list"], ["reproduce", "--list"],
                                               cwd=tmp_path, env=env,
                                               results=tmp_path / "sweep.json")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    ids = [line.split()[0] for line in lines]
    assert "plugin.normal_sum" in ids and ids.index("zhang2017.thm1") < ids.index("plugin.normal_sum")
    assert constructions.returncode == 0 and "  plugin.zero " in constructions.stdout
    assert reproduce.returncode == 0 and "genzel2023_moons" in reproduce.stdout
    assert caught.returncode == 1
    # an installed plugin needs no --include to reproduce
    assert "reproduce with `jaxmem verify --reproduce plugin.normal_sum" in caught.stdout
    no_verify = subprocess.run([sys.executable, "-c", "import verify"], cwd=tmp_path / "site",
                               capture_output=True, text=True)
    assert no_verify.returncode != 0 and "No module named 'verify'" in no_verify.stderr


@pytest.fixture(scope="module")
def fresh_process_modules():
    """What a fresh process has imported: (1) after `import jaxmem, jaxmem.claims`, whether any
    jaxmem.verify module; (2) then, after reading the constructions and data families, the
    jaxmem.verify and jaxmem.experiments modules. One process for both (each costs a JAX
    import); the second reading is taken after the first, which imports no plugin (asserted)."""
    code = ("import sys, jaxmem, jaxmem.claims\n"
            "print(any(m.startswith('jaxmem.verify') for m in sys.modules))\n"
            "from jaxmem.constructions.protocol import CONSTRUCTIONS\n"
            "from jaxmem.data.families import DATA_FAMILIES\n"
            "assert len(CONSTRUCTIONS.all()) >= 14 and 'moons' in DATA_FAMILIES\n"
            "print(sorted(m for m in sys.modules if m.startswith(('jaxmem.verify', "
            "'jaxmem.experiments'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def test_importing_jaxmem_loads_no_plugin(fresh_process_modules):
    # jaxmem itself loads no plugin at import: `import jaxmem` stays cheap.
    assert fresh_process_modules[0] == "False"
    assert jaxmem.__name__ == "jaxmem"


def test_a_grid_names_a_construction_by_module_and_function(tmp_path, monkeypatch):
    (tmp_path / "mine_grid_plugin.py").write_text(PLUGIN.replace("plugin.", "grid."))
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = dict(name="g", datasets=2, axes=dict(n=4, d=2))
    try:
        decorated = parse_grid(dict(spec, construction="mine_grid_plugin:zero_network"))
        assert decorated.construction == "mine_grid_plugin:zero_network"
        assert protocol.resolve(decorated.construction).name == "grid.zero"
        plain = parse_grid(dict(spec, construction="mine_grid_plugin:plain_builder"))
        assert protocol.resolve(plain.construction).options == {}
        with pytest.raises(GridError, match="unknown parameter 'theta'"):
            parse_grid(dict(spec, construction="mine_grid_plugin:plain_builder",
                            axes=dict(n=4, d=2, theta=0.1)))
        with pytest.raises(GridError, match="has no function 'absent'"):
            parse_grid(dict(spec, construction="mine_grid_plugin:absent"))
        with pytest.raises(GridError, match="cannot import no_such_module"):
            parse_grid(dict(spec, construction="no_such_module:f"))
    finally:
        for name in ("grid.zero", "mine_grid_plugin:plain_builder"):
            protocol.CONSTRUCTIONS.remove(name, missing_ok=True)
        for name in ("grid.uniform_sum", "grid.normal_sum"):
            C.CLAIMS.remove(name, missing_ok=True)


def test_reading_constructions_skips_only_the_papers_claims_and_experiments(
        fresh_process_modules):
    # The papers' claims and experiments register neither constructions nor data families,
    # so `jaxmem sweep` need not import them (registry.PAPERS_ONLY)...
    from jaxmem.data import families
    C.all_claims(), experiment.all_experiments()
    for reg in (protocol.CONSTRUCTIONS, families.DATA_FAMILIES):
        for name in reg.names():
            assert not reg.origin(name).startswith(("jaxmem.verify", "jaxmem.experiments")), name
    # ...and does not: a fresh process reading the constructions leaves them unimported.
    assert fresh_process_modules[1] == "[]"
