"""CI's tutorial step: the README's "Check your own theorem" commands, verbatim, as a user runs
them: jaxmem installed from a wheel (not editable) into a folder of its own, a copy of
examples/ in a directory outside the repository, each command's exit code checked (1 where
the README's comment says "exit 1", else 0), and the --reproduce command a VIOLATED line
prints run as printed. Also: `import verify` finds nothing there."""

import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Check your own theorem", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def run(command: str, cwd: Path, env: dict, expect: int) -> str:
    print(f"$ {command}", flush=True)
    proc = subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900)
    print(proc.stdout[-3000:], proc.stderr[-3000:], sep="", flush=True)
    if proc.returncode != expect:
        sys.exit(f"tutorial: `{command}` exited {proc.returncode}, expected {expect}")
    return proc.stdout


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="jaxmem-tutorial-") as tmp:
        tmp = Path(tmp)
        site, work = tmp / "site", tmp / "work"
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                        str(site), str(REPO)], check=True)
        work.mkdir()
        subprocess.run(["cp", "-r", str(REPO / "examples"), str(work)], check=True)
        # The wheel's jaxmem first on the path; the console script is `python -m jaxmem.cli`
        # under another name, so a `jaxmem` on PATH is this interpreter's.
        bin_dir = tmp / "bin"
        bin_dir.mkdir()
        (bin_dir / "jaxmem").write_text(f"#!/bin/sh\nexec {sys.executable} -m jaxmem.cli \"$@\"\n")
        (bin_dir / "jaxmem").chmod(0o755)
        env = dict(os.environ, PYTHONPATH=str(site), PATH=f"{bin_dir}:{os.environ['PATH']}",
                   JAXMEM_CACHE="off")
        where = run(f"{sys.executable} -c 'import jaxmem.verify as v; print(v.__file__)'",
                    work, env, 0)
        if not where.strip().startswith(str(site)):
            sys.exit(f"tutorial: jaxmem came from {where.strip()}, not the installed wheel")
        run(f"{sys.executable} -c 'import verify' 2>/dev/null", work, env, 1)
        hint = None
        for command in readme_commands():
            expect = 1 if "exit 1" in command.split("#", 1)[-1] else 0
            out = run(command, work, env, expect)
            if "VIOLATED" in out and "reproduce with `" in out:
                hint = out.split("reproduce with `", 1)[1].split("`", 1)[0]
        if hint is None:
            sys.exit("tutorial: no VIOLATED line printed a --reproduce command")
        argv = shlex.split(hint)
        out = run(shlex.join(argv), tmp, env, 1)      # as printed, from another directory
        if "FAILS" not in out:
            sys.exit("tutorial: the printed --reproduce command did not rebuild a failure")
    print("tutorial: every README command ran as documented")


if __name__ == "__main__":
    main()
