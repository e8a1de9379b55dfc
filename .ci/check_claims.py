"""CI's claims step: `jaxmem verify --json` at quick scale in a subprocess (as a user runs it),
then every registered claim must be present with verdict HOLDS or INFO. Stricter than the exit
code, which only fails on VIOLATED or ERROR: an INCONCLUSIVE claim fails CI too. Kept out of
pytest because it runs every claim (about 5 min on 2 cores) and the suite's budget is 10 min."""

import json
import os
import subprocess
import sys

import verify

env = dict(os.environ, JAXMEM_CACHE="off")
proc = subprocess.run([sys.executable, "-m", "jaxmem.cli", "verify", "--json", "--no-store"],
                      capture_output=True, text=True, env=env, timeout=1200)
if proc.returncode != 0:
    sys.exit(f"jaxmem verify exited {proc.returncode}:\n{proc.stderr[-4000:]}\n{proc.stdout[-4000:]}")
rows = json.loads(proc.stdout)
missing = {c.id for c in verify.all_claims()} - {r["id"] for r in rows}
bad = [r for r in rows if r["verdict"] not in ("HOLDS", "INFO")]
for r in rows:
    print(f"{r['id']:<40} {r['verdict']:<12} {r.get('detail', '')}")
if missing or bad:
    sys.exit(f"claims missing: {sorted(missing)}; not HOLDS/INFO: {[r['id'] for r in bad]}")
print(f"{len(rows)} claims: all HOLDS or INFO")
