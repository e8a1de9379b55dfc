"""Open registries: claims, experiments (and the sweepable constructions and data families)
are registered at import time, by the built-in papers and by a user's plugin alike.

A plugin is any module that registers something when imported. jaxmem finds plugins in two
ways, and the built-in papers use the first:

  entry points    an installed distribution names its module in the entry-point group
                  `jaxmem.plugins`, e.g. in its pyproject.toml
                      [project.entry-points."jaxmem.plugins"]
                      mine = "mypkg.claims"
                  Every such module is imported the first time a registry is read.
  --include PATH  (`jaxmem verify`, `sweep`, `reproduce`) imports a Python file, or every
                  `*.py` file of a folder (a folder with an `__init__.py` is imported as one
                  package), under a private module name, so that a file or folder called
                  `verify` or `experiments` shadows nothing.

Registering an id twice from different modules is an error naming both; a module imported
again (a reload) replaces its own entries.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import importlib.util
import sys
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")

PLUGIN_GROUP = "jaxmem.plugins"
INCLUDED_PREFIX = "jaxmem_include_"  # the private package names of --include's modules
# The distribution whose plugins load first, so that `--list` shows the built-in papers first.
BUILTIN_DISTRIBUTION = "jaxmem"
# jaxmem's entry points that register only claims or experiments (tests/test_plugins.py checks)
PAPERS_ONLY = ("papers-claims", "papers-experiments")


class PluginError(RuntimeError):
    """A plugin failed to import or registered something invalid; the message names it."""


def _origin(item) -> str:
    """The module an entry came from (its `__module__`, or the module that registered it)."""
    return getattr(item, "__module__", None) or "?"


class Registry(Generic[T]):
    """Named entries of one kind, in registration order."""

    def __init__(self, kind: str, name_of: Callable[[T], str], skip_builtin: tuple = ()):
        self.kind = kind
        self._name_of = name_of
        self._entries: dict[str, tuple[T, str]] = {}
        # jaxmem's own plugins that never register this kind (not imported to read it: a
        # `jaxmem sweep` need not import the papers' claims); every other plugin is.
        self._skip = frozenset(skip_builtin)

    def _load(self) -> None:
        load_plugins(skip_builtin=self._skip)

    def add(self, item: T, origin: str | None = None) -> T:
        name = self._name_of(item)
        if not isinstance(name, str) or not name:
            raise PluginError(f"a {self.kind} needs a non-empty string name; got {name!r}")
        origin = origin or _origin(item)
        if name in self._entries and self._entries[name][1] != origin:
            raise PluginError(
                f"{self.kind} {name!r} registered twice: by {self._entries[name][1]} "
                f"and by {origin}"
            )
        self._entries[name] = (item, origin)
        return item

    def get(self, name: str) -> T:
        self._load()
        if name not in self._entries:
            known = ", ".join(self._entries) or "none"
            raise KeyError(f"unknown {self.kind} {name!r}; known: {known}")
        return self._entries[name][0]

    def remove(self, name: str, missing_ok: bool = False) -> T | None:
        """Unregisters `name` (a notebook redefining a claim, a test's temporary entry)."""
        if missing_ok and name not in self._entries:
            return None
        return self._entries.pop(name)[0]

    def get_or_none(self, name: str) -> T | None:
        self._load()
        entry = self._entries.get(name)
        return None if entry is None else entry[0]

    def origin(self, name: str) -> str:
        self._load()
        return self._entries[name][1]

    def all(self) -> list[T]:
        self._load()
        return [item for item, _ in self._entries.values()]

    def names(self) -> list[str]:
        self._load()
        return list(self._entries)

    def __contains__(self, name: str) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[T]:
        return iter(self.all())


_loaded: set[str] = set()  # "dist:name" of the entry points imported so far
_included: dict[Path, list[str]] = {}


_entry_points: dict[tuple, list] = {}  # sys.path -> the group's entry points found on it
_settled: set[tuple] = set()  # (sys.path, skipped) whose entry points are all loaded


def plugin_entry_points() -> list:
    """The `jaxmem.plugins` entry points, jaxmem's own first. Read once per sys.path: reading
    the installed distributions' metadata costs ~15 ms, and every registry lookup asks (a
    grid of 2550 configs took 150 s before this cache, 0.1 s after)."""
    where = tuple(sys.path)
    if where not in _entry_points:

        def order(ep):
            dist = getattr(getattr(ep, "dist", None), "name", "") or ""
            return (dist != BUILTIN_DISTRIBUTION, dist, ep.name)

        _entry_points.clear()
        _entry_points[where] = sorted(entry_points(group=PLUGIN_GROUP), key=order)
    return _entry_points[where]


def is_installed_plugin(module_name: str) -> bool:
    """Whether the module is (inside) one that an installed plugin's entry point names."""
    roots = {ep.value.split(":")[0] for ep in plugin_entry_points()}
    return any(module_name == root or module_name.startswith(root + ".") for root in roots)


def included_path(module_name: str) -> str | None:
    """The path given to `include` that imported this module, if one did."""
    for path, names in _included.items():
        if any(module_name == name or module_name.startswith(name + ".") for name in names):
            return str(path)
    return None


def _ep_id(ep) -> str:
    return f"{getattr(getattr(ep, 'dist', None), 'name', '') or ''}:{ep.name}"


def load_plugins(skip_builtin=frozenset()) -> None:
    """Imports the modules of the `jaxmem.plugins` entry-point group, each once; `skip_builtin`
    names jaxmem's own entry points a caller does not need (a user's plugins always load)."""
    state = (tuple(sys.path), frozenset(skip_builtin))
    if state in _settled:  # every registry lookup asks; an entry point's name costs ~2 ms
        return
    for ep in plugin_entry_points():
        ep_id = _ep_id(ep)
        if ep_id in _loaded:
            continue
        if ep_id.split(":", 1)[0] == BUILTIN_DISTRIBUTION and ep.name in skip_builtin:
            continue
        _loaded.add(ep_id)  # before importing: a plugin reading a registry must not recurse
        try:
            ep.load()
        except Exception as err:
            _loaded.discard(ep_id)
            raise PluginError(
                f"plugin {ep.name!r} ({ep.value}) failed to import: {type(err).__name__}: {err}"
            ) from err
    _settled.add(state)


def _package(name: str, folder: Path):
    """An empty package `name` whose submodules are the `.py` files of `folder` (so that the
    included files can import each other relatively: `from .helpers import f`)."""
    if name not in sys.modules:
        spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
        spec.submodule_search_locations = [str(folder)]
        sys.modules[name] = importlib.util.module_from_spec(spec)
    return name


def _import(module_name: str, shown: Path):
    try:
        return importlib.import_module(module_name)
    except Exception as err:
        sys.modules.pop(module_name, None)
        raise PluginError(f"--include {shown}: {type(err).__name__}: {err}") from err


def include(path: str | Path) -> list[str]:
    """Imports a plugin file, or a folder of them, under private module names; returns those
    names. Including the same path again does nothing."""
    load_plugins()
    path = Path(path).expanduser().resolve()
    if path in _included:
        return _included[path]
    if not path.exists():
        raise PluginError(f"--include {path}: no such file or folder")
    folder = path.parent if path.is_file() else path
    # A private, folder-derived package name: the user's `verify.py` or `experiments/` must
    # not collide with anything importable, nor two included folders with each other.
    package = INCLUDED_PREFIX + hashlib.sha256(str(folder).encode()).hexdigest()[:12]
    if path.is_file():
        if path.suffix != ".py":
            raise PluginError(f"--include {path}: expected a .py file or a folder")
        files = [path]
    elif (path / "__init__.py").exists():
        _package(package, path.parent)
        names = [_import(f"{package}.{path.name}", path).__name__]
        _included[path] = names
        return names
    else:
        files = sorted(p for p in path.glob("*.py") if not p.name.startswith("_"))
        if not files:
            raise PluginError(f"--include {path}: the folder holds no .py files")
    _package(package, folder)
    names = [_import(f"{package}.{file.stem}", file).__name__ for file in files]
    _included[path] = names
    return names
