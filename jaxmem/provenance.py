"""What code made a record: jaxmem's version, the git commit (and whether the tree was
dirty) when jaxmem runs from a checkout, and a fingerprint of the sources that compute it.

The fingerprint is a SHA-256 over every Python source of the `jaxmem` package (relative path
and bytes, in sorted order) and of any extra modules named (a claim's or experiment's
module, a user's construction): editing any of them changes it, so records computed by other
code are never reused silently (`jaxmem.sweep.run_sweep`, `--recompute`,
`--accept-old-records`).
"""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import jaxmem

PACKAGE_DIR = Path(jaxmem.__file__).resolve().parent


def _digest_files(digest, root: Path, files) -> None:
    for path in files:
        rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
        digest.update(rel.encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")


@functools.cache
def _package_digest() -> str:
    digest = hashlib.sha256()
    files = sorted(p for p in PACKAGE_DIR.rglob("*.py") if "__pycache__" not in p.parts)
    _digest_files(digest, PACKAGE_DIR, files)
    return digest.hexdigest()


def module_files(names) -> list[Path]:
    """The source files of the named (importable) modules; a package gives all its sources."""
    out = []
    for name in names:
        module = sys.modules.get(name) or __import__(name, fromlist=["_"])
        path = getattr(module, "__file__", None)
        if path is None:
            continue
        path = Path(path).resolve()
        if path.name == "__init__.py":
            out.extend(sorted(p for p in path.parent.rglob("*.py") if "__pycache__" not in p.parts))
        else:
            out.append(path)
    return out


def code_fingerprint(modules=()) -> str:
    """SHA-256 (hex) of jaxmem's sources and the named modules' sources."""
    if not modules:
        return _package_digest()
    digest = hashlib.sha256(_package_digest().encode())
    files = sorted(set(module_files(sorted(set(modules)))))
    _digest_files(
        digest, Path(os.path.commonpath([str(f) for f in files])) if files else PACKAGE_DIR, files
    )
    return digest.hexdigest()


@functools.cache
def git_state() -> tuple[str | None, bool | None]:
    """(commit, dirty) of the checkout jaxmem runs from; (None, None) outside a git tree."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(PACKAGE_DIR), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if commit.returncode != 0:
            return None, None
        status = subprocess.run(
            ["git", "-C", str(PACKAGE_DIR.parent), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        return commit.stdout.strip(), bool(status.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return None, None


def provenance(modules=()) -> dict:
    """jaxmem_version, git_commit, git_dirty, code_fingerprint (of jaxmem and `modules`)."""
    commit, dirty = git_state()
    return dict(
        jaxmem_version=jaxmem.__version__,
        git_commit=commit,
        git_dirty=dirty,
        code_fingerprint=code_fingerprint(tuple(modules)),
    )


def short(fingerprint: str | None) -> str:
    """A fingerprint as printed: its first 12 hex digits, or 'unknown' (records from before
    jaxmem recorded its code)."""
    return "unknown" if fingerprint is None else fingerprint[:12]


__all__ = ["code_fingerprint", "git_state", "module_files", "provenance", "short"]
