"""The `jaxmem` command line: a thin shell over the library and the claim registry."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

EXIT_OK, EXIT_VIOLATED, EXIT_USAGE = 0, 1, 2


def _configure_jax(scale: str) -> None:
    """Must run before the first JAX computation (XLA reads its flags when the backend starts).

    float64 and full-precision matmuls for exactness checks (DESIGN.md, Precision). At quick
    scale a claim is a few milliseconds of compute behind a second of XLA compilation, so the
    CPU backend's optimization level is lowered (compiles ~5x faster, same results up to
    rounding) unless the user set it in XLA_FLAGS. Compiled programs are cached on disk.
    """
    flags = os.environ.get("XLA_FLAGS", "")
    if scale == "quick" and "xla_backend_optimization_level" not in flags:
        os.environ["XLA_FLAGS"] = (flags + " --xla_backend_optimization_level=0").strip()
    import jax

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_default_matmul_precision", "highest")
    cache = os.environ.get("JAXMEM_CACHE", os.path.join(os.path.expanduser("~"), ".cache",
                                                        "jaxmem", "xla"))
    if cache and cache.lower() != "off":
        try:
            os.makedirs(cache, exist_ok=True)
            jax.config.update("jax_compilation_cache_dir", cache)
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
        except OSError:
            pass  # an unwritable cache directory only costs compile time


def _fmt(x, spec):
    return "-" if x is None else format(x, spec)


def _line(res) -> str:
    interval = ("-" if res.ci_low is None else f"[{res.ci_low:.4f}, {res.ci_high:.4f}]")
    rate = _fmt(res.exponent, ".3f") if res.exponent is not None else _fmt(res.pass_rate, ".4f")
    return (f"{res.id:<28} {res.n_datasets:>8} {rate:>9}  {interval:<18} {res.verdict:<12} "
            f"{res.seconds:>7.1f}   {res.detail}")


HEADER = (f"{'claim':<28} {'datasets':>8} {'pass rate':>9}  {'interval':<18} {'verdict':<12} "
          f"{'seconds':>7}   detail")


def _verify(args) -> int:
    import verify
    from verify import claims as claims_mod

    registry = verify.all_claims()
    chunk_size = args.chunk_size or claims_mod.DEFAULT_CHUNK
    if args.list:
        for c in registry:
            print(f"{c.id:<28} [{c.rule.kind}] {c.statement}")
        return EXIT_OK
    known = {c.id: c for c in registry}
    if args.reproduce:
        if args.index is None:
            print("jaxmem verify: --reproduce needs --index K (the dataset to rebuild)",
                  file=sys.stderr)
            return EXIT_USAGE
        if args.reproduce not in known:
            print(f"jaxmem verify: unknown claim {args.reproduce!r}; see `jaxmem verify --list`",
                  file=sys.stderr)
            return EXIT_USAGE
        try:
            out = claims_mod.reproduce(known[args.reproduce], args.index, args.scale, args.seed,
                                      chunk_size)
        except ValueError as err:
            print(f"jaxmem verify: {err}", file=sys.stderr)
            return EXIT_USAGE
        X, y = out.pop("X", None), out.pop("y", None)
        if args.save:
            if X is None:
                print(f"jaxmem verify: claim {args.reproduce} does not expose its dataset",
                      file=sys.stderr)
                return EXIT_USAGE
            import numpy as np
            np.savez(args.save, X=X, y=y)
            out["saved"] = args.save
        if args.json:
            print(json.dumps(out, default=str))
        else:
            cfg = ", ".join(f"{k}={v}" for k, v in out["config"].items())
            status = {True: "passes", False: "FAILS", None: "(no pass/fail rule)"}[out.get("passed")]
            print(f"{out['claim']}  dataset {out['global_index']} = index {out['index']} of "
                  f"({cfg}), seed {out['seed']}, scale {out['scale']}: {status}")
            for k, v in out["metrics"].items():
                print(f"  {k:<24} {v}")
            if "saved" in out:
                print(f"  dataset written to {out['saved']} (arrays X, y)")
        return EXIT_OK if out.get("passed", True) else EXIT_VIOLATED

    selected = registry
    if args.claim:
        missing = [c for c in args.claim if c not in known]
        if missing:
            print(f"jaxmem verify: unknown claim(s) {', '.join(missing)}; "
                  f"see `jaxmem verify --list`", file=sys.stderr)
            return EXIT_USAGE
        selected = [known[c] for c in args.claim]
    results, failed = [], False
    if not args.json:
        print(HEADER, flush=True)
    t0 = time.perf_counter()
    for claim in selected:
        try:
            res = claims_mod.run_claim(claim, args.scale, args.seed, chunk_size)
        except Exception as err:  # a crashing claim is reported, and fails the run
            failed = True
            res = claims_mod.Result(id=claim.id, verdict="ERROR", n_datasets=0, n_passed=None,
                                    pass_rate=None, ci_low=None, ci_high=None, seconds=0.0,
                                    detail=f"{type(err).__name__}: {err}", scale=args.scale,
                                    seed=args.seed)
        failed |= res.verdict == "VIOLATED"
        results.append(res)
        if not args.json:
            print(_line(res), flush=True)
    if args.json:
        print(json.dumps([r.to_json() for r in results], default=str))
    else:
        counts = {v: sum(r.verdict == v for r in results) for v in
                  ("HOLDS", "VIOLATED", "INCONCLUSIVE", "INFO", "ERROR")}
        summary = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
        print(f"{len(results)} claims in {time.perf_counter() - t0:.1f} s: {summary}")
    return EXIT_VIOLATED if failed else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jaxmem",
        description="Check theorems about memorization networks by running them: draw many "
                    "random datasets, build the networks as jit-compiled vmapped JAX functions, "
                    "and report a verdict with a confidence interval and a reproducible "
                    "counterexample.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    v = sub.add_parser(
        "verify", help="run the registered claims and print a verdict per claim",
        description="Run registered claims. One line per claim: id, datasets, pass rate (or "
                    "fitted exponent), interval, verdict (HOLDS, VIOLATED, INCONCLUSIVE, INFO), "
                    "seconds. Exit code 0 unless a claim is VIOLATED (or crashes).")
    v.add_argument("--claim", action="append", metavar="ID",
                   help="run only this claim (repeatable); default: all")
    v.add_argument("--scale", choices=["quick", "full"], default="quick",
                   help="quick: small grids for CI and laptops (default); full: for a GPU")
    v.add_argument("--seed", type=int, default=0, help="root seed of every dataset (default 0)")
    v.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    v.add_argument("--list", action="store_true", help="list the registered claims and exit")
    v.add_argument("--reproduce", metavar="ID",
                   help="rebuild one dataset of claim ID (with --index) and print its metrics")
    v.add_argument("--index", type=int, metavar="K",
                   help="the dataset to rebuild: its index over the claim's grid, as printed "
                        "in a VIOLATED line")
    v.add_argument("--save", metavar="FILE.npz",
                   help="with --reproduce: write the dataset's X and y to FILE.npz")
    v.add_argument("--chunk-size", type=int, default=None,
                   help="datasets per compiled vmapped call (bounds memory; default 256)")
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    if args.command == "verify":
        if args.chunk_size is not None and args.chunk_size < 1:
            parser.error("--chunk-size must be positive")
        _configure_jax(args.scale)
        return _verify(args)
    parser.error(f"unknown command {args.command}")
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
