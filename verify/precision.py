"""precision.float32: up to which n do the exact constructions survive float32?

Informational (no verdict): the exact two-layer constructions need weights of size ~1/min gap,
growing polynomially in n (zhang2017.md §2, bubeck2020.md §3), so float32 loses first the labels'
values and later their signs. For each construction and label kind this reports the largest n
of the grid at which every dataset is still float32-deployable (`metrics.float32_report`).
"""

from __future__ import annotations

import jax
import numpy as np

from jaxmem import metrics
from jaxmem.constructions import bubeck2020, zhang2017
from jaxmem.data import gaussian
from jaxmem.sweep import expand
from jaxmem.claims import Claim, Informational, register

D = 10
BUILDERS = {"zhang2017": zhang2017.build, "bubeck2020": bubeck2020.build}


def dataset(key, n, construction, labels="gaussian"):
    return gaussian(jax.random.fold_in(key, 0 if labels == "gaussian" else 2), n, D, labels=labels)


def trial(key, n, construction):
    out = {}
    for labels in ("gaussian", "sign"):
        X, y = dataset(key, n, construction, labels)
        net, info = BUILDERS[construction](jax.random.fold_in(key, 1), X, y)
        rep = metrics.float32_report(net, X, y)
        out[f"deployable_{labels}"] = rep["deployable_f32"] & info["valid"]
        out[f"max_abs_error_f32_{labels}"] = rep["max_abs_error_f32"]
        out[f"sign_accuracy_f32_{labels}"] = rep["sign_accuracy_f32"]
    return out


def summarize(runs) -> str:
    """'zhang2017: real labels n <= 16 (fails from 64), signs n <= 1024; ...'"""
    parts = []
    for construction in BUILDERS:
        rows = sorted((cfg["n"], outs) for cfg, outs in runs if cfg["construction"] == construction)
        texts = []
        for labels, name in (("gaussian", "real labels"), ("sign", "+-1 labels")):
            ok_ns = [n for n, o in rows if np.all(o[f"deployable_{labels}"])]
            bad_ns = [n for n, o in rows if not np.all(o[f"deployable_{labels}"])]
            largest = max(ok_ns) if ok_ns else None
            first_bad = min(bad_ns) if bad_ns else None
            texts.append(f"{name} n <= {largest if largest is not None else 'none'}"
                         + (f" (fails from {first_bad})" if first_bad is not None else " (all pass)"))
        parts.append(f"{construction}: " + ", ".join(texts))
    return f"float32 deployable at d={D}: " + "; ".join(parts)


FLOAT32 = Claim(
    id="precision.float32",
    citation="jaxmem (measured): float32 deployability of Zhang et al. 2017 and Bubeck et al. 2020.",
    statement=("Largest n at which each exact construction still interpolates when its weights "
               "and arithmetic are float32 (real labels: half the mantissa; +-1 labels: signs)."),
    trial=trial,
    grids=dict(quick=expand(n=[4, 16, 64, 256, 1024], construction=list(BUILDERS), datasets=32),
               full=expand(n=[4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096],
                           construction=list(BUILDERS), datasets=500)),
    rule=Informational(summarize),
    dataset=dataset,
)

CLAIMS = [FLOAT32]

register(*CLAIMS)
