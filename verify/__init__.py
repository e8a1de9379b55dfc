"""The claim registry: one module per paper, one Claim per theorem.

`all_claims()` lists every registered claim in a stable order; `get(id)` finds one.
"""

from __future__ import annotations

import importlib

# Modules holding a CLAIMS list, in the order `jaxmem verify` runs them.
MODULES = ("verify.zhang2017", "verify.bubeck2020", "verify.precision", "verify.genzel2023",
           "verify.yu2024", "verify.yu2024_width", "verify.gd_width", "verify.lazy",
           "verify.zhang2017_random_labels", "verify.arpit2017", "verify.yu2024_width6",
           "verify.park2021", "verify.yu2024_hardness", "verify.separability",
           "verify.yun2019")


def all_claims() -> list:
    claims = []
    for name in MODULES:
        claims.extend(importlib.import_module(name).CLAIMS)
    ids = [c.id for c in claims]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise RuntimeError(f"claim ids registered twice: {sorted(dupes)}")
    return claims


def get(claim_id: str):
    for claim in all_claims():
        if claim.id == claim_id:
            return claim
    known = ", ".join(c.id for c in all_claims())
    raise KeyError(f"unknown claim {claim_id!r}; known claims: {known}")
