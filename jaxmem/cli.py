"""The `jaxmem` command line: a thin shell over the library and the claim registry."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time

EXIT_OK, EXIT_VIOLATED, EXIT_USAGE = 0, 1, 2


def _configure_jax(scale: str, min_compile_seconds: float = 0.2) -> None:
    """Must run before the first JAX computation (XLA reads its flags when the backend starts).

    float64 and full-precision matmuls for exactness checks (docs/conventions.md §5.1). At quick
    scale a claim's compute is tiny next to its XLA compilation (experiments/results/TIMINGS.md),
    so the CPU backend's optimization level is lowered (compiles ~5x faster, same results up to
    rounding) unless the user set it in XLA_FLAGS. Compiled programs are cached on disk
    ($JAXMEM_CACHE, "off" for none), those that took at least min_compile_seconds to compile.
    """
    flags = os.environ.get("XLA_FLAGS", "")
    if scale == "quick" and "xla_backend_optimization_level" not in flags:
        os.environ["XLA_FLAGS"] = (flags + " --xla_backend_optimization_level=0").strip()
    import jax

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_default_matmul_precision", "highest")
    cache = os.environ.get(
        "JAXMEM_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "jaxmem", "xla")
    )
    if cache and cache.lower() != "off":
        try:
            os.makedirs(cache, exist_ok=True)
            jax.config.update("jax_compilation_cache_dir", cache)
            jax.config.update("jax_persistent_cache_min_compile_time_secs", min_compile_seconds)
        except OSError:
            pass  # an unwritable cache directory only costs compile time


def _fmt(x, spec):
    return "-" if x is None else format(x, spec)


def _line(res) -> str:
    interval = "-" if res.ci_low is None else f"[{res.ci_low:.4f}, {res.ci_high:.4f}]"
    rate = _fmt(res.exponent, ".3f") if res.exponent is not None else _fmt(res.pass_rate, ".4f")
    return (
        f"{res.id:<38} {res.n_datasets:>8} {rate:>9}  {interval:<18} {res.verdict:<12} "
        f"{res.seconds:>7.1f}   {res.detail}"
    )


def _config_line(row: dict) -> str:
    """One config of a claim's grid (verify -v): its parameters, datasets, passes,
    undecided and its own interval."""
    cfg = ", ".join(f"{k}={v}" for k, v in row["config"].items())
    if "passed" in row:
        stats = (
            f"{row['passed']}/{row['datasets']} pass, {row['undecided']} undecided, "
            f"[{row['ci_low']:.4f}, {row['ci_high']:.4f}]"
        )
    else:
        median = "-" if row.get("median") is None else format(row["median"], ".4g")
        stats = f"{row['datasets']} datasets, median {median}, {row.get('undecided', 0)} undecided"
    return f"    {cfg}: {stats}"


HEADER = (
    f"{'claim':<38} {'datasets':>8} {'pass rate':>9}  {'interval':<18} {'verdict':<12} "
    f"{'seconds':>7}   detail"
)


def _verify(args) -> int:
    from jaxmem import claims as claims_mod

    registry = claims_mod.all_claims()
    chunk_size = args.chunk_size or claims_mod.DEFAULT_CHUNK
    if args.list:
        for c in registry:
            print(f"{c.id:<38} [{c.rule.kind}] {c.statement}")
        return EXIT_OK
    known = {c.id: c for c in registry}
    if args.reproduce:
        if args.index is None:
            print(
                "jaxmem verify: --reproduce needs --index K (the dataset to rebuild)",
                file=sys.stderr,
            )
            return EXIT_USAGE
        if args.reproduce not in known:
            print(
                f"jaxmem verify: unknown claim {args.reproduce!r}; see `jaxmem verify --list`",
                file=sys.stderr,
            )
            return EXIT_USAGE
        try:
            out = claims_mod.reproduce(
                known[args.reproduce], args.index, args.scale, args.seed, chunk_size
            )
        except ValueError as err:
            print(f"jaxmem verify: {err}", file=sys.stderr)
            return EXIT_USAGE
        X, y = out.pop("X", None), out.pop("y", None)
        if args.save:
            if X is None:
                print(
                    f"jaxmem verify: claim {args.reproduce} does not expose its dataset",
                    file=sys.stderr,
                )
                return EXIT_USAGE
            import numpy as np

            np.savez(args.save, X=X, y=y)
            out["saved"] = args.save
        if args.json:
            print(json.dumps(out, default=str))
        else:
            cfg = ", ".join(f"{k}={v}" for k, v in out["config"].items())
            status = {True: "passes", False: "FAILS", None: "(no pass/fail rule)"}[
                out.get("passed")
            ]
            if out.get("undecided"):
                status = "UNDECIDED (precision cannot decide it)"
            print(
                f"{out['claim']}  dataset {out['global_index']} = index {out['index']} of "
                f"({cfg}), seed {out['seed']}, scale {out['scale']}: {status}"
            )
            for k, v in out["metrics"].items():
                print(f"  {k:<24} {v}")
            if "saved" in out:
                print(f"  dataset written to {out['saved']} (arrays X, y)")
        return EXIT_OK if out.get("passed", True) or out.get("undecided") else EXIT_VIOLATED

    selected = registry
    store, run_id = None, None
    if args.claim:
        missing = [c for c in args.claim if c not in known]
        if missing:
            print(
                f"jaxmem verify: unknown claim(s) {', '.join(missing)}; see `jaxmem verify --list`",
                file=sys.stderr,
            )
            return EXIT_USAGE
        selected = [known[c] for c in args.claim]
    if args.distributed:
        _initialize_distributed(args)
    import jax

    from jaxmem.sweep.runner import make_mesh

    try:  # --devices is checked before the store is touched
        mesh = make_mesh(args.devices, args.distributed)
    except ValueError as err:
        return _fail("verify", err)
    writer = jax.process_index() == 0  # process 0 alone prints and writes
    if not args.no_store and writer:
        from jaxmem.store import Store, StoreError

        try:
            store = Store(_store_path(args))
            # Each claim's records are keyed with its own code's fingerprint (run_claim), so
            # `--claim X` reuses what a run of every claim computed for X, and back.
            run_id, _ = claims_mod.begin_verify_run(
                store, selected, args.scale, args.seed, chunk_size, mesh
            )
        except StoreError as err:
            print(f"jaxmem verify: {err}", file=sys.stderr)
            return EXIT_USAGE
    show = writer and not args.json
    status = "failed"
    try:
        results, failed = [], False
        if show:
            print(HEADER, flush=True)
        t0 = time.perf_counter()
        for claim in selected:
            try:
                res = claims_mod.run_claim(
                    claim,
                    args.scale,
                    args.seed,
                    chunk_size,
                    exact_budget=args.exact_budget,
                    store=store,
                    run_id=run_id,
                    devices=args.devices,
                    distributed=args.distributed,
                )
            except Exception as err:  # a crashing claim is reported, and fails the run
                failed = True
                res = claims_mod.Result(
                    id=claim.id,
                    verdict="ERROR",
                    n_datasets=0,
                    n_passed=None,
                    pass_rate=None,
                    ci_low=None,
                    ci_high=None,
                    seconds=0.0,
                    detail=f"{type(err).__name__}: {err}",
                    scale=args.scale,
                    seed=args.seed,
                )
            if res is None:  # a process other than 0 of a distributed run: it computed
                continue
            failed |= res.verdict == "VIOLATED"
            results.append(res)
            if store is not None:  # written as each claim ends: a killed run keeps its verdicts
                assert run_id is not None  # begun with the store
                store.write_verdicts(run_id, [dict(res.to_json(), claim=res.id)])
            if show:
                print(_line(res), flush=True)
                if args.verbose:
                    for row in res.configs:
                        print(_config_line(row), flush=True)
        if args.json and writer:
            print(json.dumps([r.to_json() for r in results], default=str))
        elif show:
            counts = {
                v: sum(r.verdict == v for r in results)
                for v in ("HOLDS", "VIOLATED", "INCONCLUSIVE", "INFO", "ERROR")
            }
            summary = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
            resumed = sum(r.n_resumed for r in results)
            where = f"; verdicts in {store.path} (run {run_id})" if store is not None else ""
            if resumed:
                where += f"; {resumed} datasets read back from the store (resumed)"
            print(f"{len(results)} claims in {time.perf_counter() - t0:.1f} s: {summary}{where}")
        status = "done"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        if store is not None:
            assert run_id is not None  # begun with the store
            try:
                store.end_run(run_id, status)
            finally:
                store.close()
    return EXIT_VIOLATED if failed else EXIT_OK


def _other_code(args) -> str:
    """What a sweep does with stored records of other code (jaxmem.sweep.run_sweep)."""
    return "recompute" if args.recompute else "accept" if args.accept_old_records else "stop"


def _other_code_arguments(parser) -> None:
    group = parser.add_argument_group(
        "records of other code",
        "The store knows what code computed each record. When it "
        "holds records of this grid computed by other code (jaxmem or the experiment edited "
        "since), the command stops and says so, unless told:",
    )
    group.add_argument(
        "--recompute",
        action="store_true",
        help="compute this grid's records afresh under the current code; the "
        "old run and its records stay readable",
    )
    group.add_argument(
        "--accept-old-records",
        action="store_true",
        help="reuse the stored records of other code; the run records which "
        "code's records it accepted",
    )


def _store_path(args) -> str:
    from jaxmem.store import default_store_path

    return default_store_path(getattr(args, "store", None))


def _fail(command: str, message) -> int:
    """A usage or input error: one line on stderr, exit code 2."""
    print(f"jaxmem {command}: {message}", file=sys.stderr)
    return EXIT_USAGE


def _initialize_distributed(args) -> None:
    """jax.distributed.initialize with the flags given; what is not given is read from the
    environment (JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, JAX_PROCESS_ID) or detected by
    JAX itself (SLURM, Open MPI, TPU pods)."""
    import jax

    kwargs = dict(
        coordinator_address=args.coordinator or os.environ.get("JAX_COORDINATOR_ADDRESS"),
        num_processes=args.num_processes,
        process_id=args.process_id,
    )
    for name, env in (("num_processes", "JAX_NUM_PROCESSES"), ("process_id", "JAX_PROCESS_ID")):
        if kwargs[name] is None and os.environ.get(env):
            kwargs[name] = int(os.environ[env])
    jax.distributed.initialize(**{k: v for k, v in kwargs.items() if v is not None})


def _sweep(args) -> int:
    from jaxmem.store import Store, StoreError
    from jaxmem.sweep import GridError, load_grid

    if args.example:
        return _print_example(args.example)
    if args.list:
        from jaxmem.constructions.protocol import CONSTRUCTIONS
        from jaxmem.data.families import DATA_FAMILIES

        print("constructions (construction = NAME, or package.module:function):")
        for entry in CONSTRUCTIONS.all():
            options = ", ".join(
                f"{k} (default {o.default!r}{', traced' if o.traced else ''})"
                for k, o in entry.options.items()
            )
            labels = {"binary": "+-1 labels", "multiclass": "class labels"}.get(
                entry.task, "real or +-1 labels"
            )
            where = "host, exact" if entry.host else "jit"
            print(
                f"  {entry.name:<24} {entry.citation}; {labels}; {where}; axes n, d"
                + (f", {options}" if options else "")
            )
        print("data (data = NAME, or file:PATH.npz with arrays X and y):")
        for family in DATA_FAMILIES.all():
            kind = "fixed" if family.fixed else "random"
            shape = f"d = {family.dim}" if family.dim is not None else "any d"
            options = "".join(
                f", axis {k} (default {o.default!r})" for k, o in family.options.items()
            )
            print(
                f"  {family.name:<24} {kind}: {family.description}; {shape}; "
                f"{' or '.join(family.labels)} labels{options}"
            )
        return EXIT_OK
    _use_data_dir(args)
    if args.grid is None:
        return _fail("sweep", "give a grid file: jaxmem sweep GRID.toml (see --help)")
    try:
        grid = load_grid(args.grid)
        if args.datasets is not None:
            grid = grid.with_datasets(args.datasets)
    except GridError as err:
        return _fail("sweep", err)
    if args.chunk_size is not None and args.chunk_size < 1:
        return _fail("sweep", f"--chunk-size must be positive; got {args.chunk_size}")
    _configure_jax("full")
    import jax

    if args.distributed:
        _initialize_distributed(args)
    from jaxmem.sweep import make_mesh, run_sweep

    try:  # --devices and the grid's size are checked before the store is touched
        mesh = make_mesh(args.devices, args.distributed)
        if not args.allow_large:
            from jaxmem.sweep.runner import check_size

            check_size(grid, grid.configs(), mesh.devices.flat[0])
    except ValueError as err:
        return _fail("sweep", err)
    store = None
    if jax.process_index() == 0:
        try:
            store = Store(_store_path(args))
        except StoreError as err:
            return _fail("sweep", err)
    from jaxmem.sweep import OtherCodeError, SizeError

    try:
        stats = run_sweep(
            grid,
            store,
            devices=args.devices,
            chunk_size=args.chunk_size,
            distributed=args.distributed,
            progress=False if args.no_progress else None,
            other_code=_other_code(args),
            exact_budget=args.exact_budget,
            allow_large=True,
        )  # the size was checked above, before the store
    except (OtherCodeError, SizeError, StoreError) as err:
        return _fail("sweep", err)
    finally:
        if store is not None:
            store.close()
    if jax.process_index() == 0:
        assert store is not None  # process 0 opened it above, or returned
        summary = dict(
            run=stats.run_id,
            sweep=grid.name,
            configs=stats.configs,
            datasets=stats.datasets,
            computed=stats.computed,
            skipped=stats.skipped,
            written=stats.written,
            redecided=stats.redecided,
            undecided=stats.undecided,
            seconds=round(stats.seconds, 3),
            store=store.path,
        )
        if args.json:
            print(json.dumps(summary))
        else:
            print(
                f"sweep {grid.name}: run {stats.run_id}, {stats.configs} configs, "
                f"{stats.datasets} datasets: {stats.computed} computed, {stats.skipped} "
                f"already in the store, {stats.written} records written in "
                f"{stats.seconds:.1f} s -> {store.path}"
                + (
                    f"; {stats.redecided} undecided fits re-decided on the host"
                    if stats.redecided
                    else ""
                )
                + (f"; {stats.undecided} records undecided" if stats.undecided else "")
            )
    return EXIT_OK


def _results(args) -> int:
    from jaxmem.store import Store, StoreError

    path = _store_path(args)
    if not os.path.exists(path):
        return _fail("results", f"no store at {path} (run a sweep first, or give --store)")
    try:
        with Store(path, readonly=True) as store:
            if args.action == "list":
                runs = store.runs()
                if args.json:
                    print(json.dumps(runs, default=str))
                    return EXIT_OK
                print(
                    f"{'run':>4}  {'sweep':<24} {'kind':<7} {'status':<11} {'configs':>7} "
                    f"{'records':>15}  {'started':<19}  device"
                )
                for r in runs:
                    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["started"]))
                    records = f"{r['n_records']}/{r['expected']}"
                    print(
                        f"{r['run_id']:>4}  {r['sweep']:<24} {r['kind']:<7} {r['status']:<11} "
                        f"{r['n_configs']:>7} {records:>15}  {started:<19}  "
                        f"{r['backend']} x{r['device_count']} ({r['device_kind']})"
                    )
                return EXIT_OK
            if args.run is None:
                return _fail("results", f"{args.action} needs a RUN (an id or a sweep name)")
            if args.action == "show":
                run = store.run(args.run)
                verdicts = store.verdicts(run["run_id"])
                records = store.records(run["run_id"])
                table = _config_summaries(store.configs(run["run_id"]), records)
                if args.json:
                    print(
                        json.dumps(
                            dict(run=run, verdicts=verdicts, records=len(records), configs=table),
                            default=str,
                        )
                    )
                    return EXIT_OK
                for k, v in run.items():
                    if k in ("started", "ended") and v is not None:
                        v = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(v))
                    print(f"{k:<18} {v}")
                for v in verdicts:
                    print(
                        f"  {v['claim']:<28} {v['verdict']:<12} {v['n_datasets']:>8}  {v['detail']}"
                    )
                _print_config_summaries(table)
                return EXIT_OK
            out = args.output or f"{_safe_file_name(store.run(args.run)['sweep'])}.{args.format}"
            rows = store.export(args.run, out, format=args.format, force=args.force)
            print(f"{rows} records -> {out}")
            return EXIT_OK
    except StoreError as err:
        return _fail("results", err)


def _safe_file_name(name: str) -> str:
    """A sweep name as a file name in the working folder: letters, digits, '-', '_' and '.'
    kept, anything else (path separators, control characters) as '_', no leading dot."""
    import re

    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".")
    return safe[:100] or "export"


def _config_summaries(configs: list[dict], records: list[dict]) -> list[dict]:
    """Per config of a run: its config, the options that vary across the run's configs
    (`swept`), records, and for each pass-rate metric (ok, deployable_f32, ...) the count, the
    rate and its two-sided 95% Clopper-Pearson interval; `undecided` counts the records no
    float check could decide."""
    from jaxmem.stats import clopper_pearson

    keys = sorted({k for c in configs for k in c["config"]})
    swept = [
        k
        for k in keys
        if len({json.dumps(c["config"].get(k), sort_keys=True) for c in configs}) > 1
    ]
    by_hash: dict = {}
    for r in records:
        by_hash.setdefault(r["config_hash"], []).append(r)
    table = []
    for c in configs:
        rows = by_hash.get(c["config_hash"], [])
        entry = dict(
            config=c["config"],
            swept={k: c["config"].get(k) for k in swept},
            datasets=c["datasets"],
            records=len(rows),
        )
        for k in ("ok", "deployable_f32"):
            if rows and k in rows[0]:
                passed = sum(bool(r[k]) for r in rows)
                lo, hi = clopper_pearson(passed, len(rows), 0.95)
                entry[k] = dict(passed=passed, rate=passed / len(rows), ci_low=lo, ci_high=hi)
        if rows and "undecided" in rows[0]:
            entry["undecided"] = sum(bool(r["undecided"]) for r in rows)
        table.append(entry)
    return table


def _print_config_summaries(table: list[dict]) -> None:
    """One line per config: the swept options (n and d always), records, and each pass
    rate with its 95% interval."""
    for entry in table:
        shown = {k: entry["config"][k] for k in ("construction", "n", "d") if k in entry["config"]}
        shown.update(entry["swept"])
        config = ", ".join(f"{k}={v}" for k, v in shown.items())
        parts = [f"{entry['records']}/{entry['datasets']} records"]
        for k in ("ok", "deployable_f32"):
            if k in entry:
                s = entry[k]
                parts.append(f"{k} {s['rate']:.3f} [{s['ci_low']:.3f}, {s['ci_high']:.3f}]")
        if "undecided" in entry:
            parts.append(f"undecided {entry['undecided']}")
        print(f"  {config}: " + ", ".join(parts))


def _use_data_dir(args) -> None:
    """--data-dir: where real data sets (MNIST, CIFAR-10) are read from; it overrides
    $JAXMEM_DATA for this process (`jaxmem.data.real.data_dir`)."""
    if getattr(args, "data_dir", None):
        path = os.path.abspath(args.data_dir)
        if os.environ.get("JAXMEM_DATA") != path:
            from jaxmem.sweep import datasets

            datasets.clear_cache()  # the same names may hold other files there
        os.environ["JAXMEM_DATA"] = path


def _reproduce(args) -> int:
    from jaxmem import experiment as experiments
    from jaxmem.store import Store, StoreError
    from jaxmem.sweep import GridError

    if args.list or args.name is None:
        if args.name is None and not args.list:
            return _fail("reproduce", "name an experiment (see `jaxmem reproduce --list`)")
        modules = experiments.all_experiments()
        width = max(len(m.NAME) for m in modules)
        for module in modules:
            print(f"{module.NAME:<{width}}  {module.REGENERATES}")
        return EXIT_OK
    try:
        module = experiments.get(args.name)
    except KeyError as err:
        return _fail("reproduce", err.args[0])
    _configure_jax(args.scale)
    _use_data_dir(args)
    try:  # a grid on absent data files fails here, saying how to provide them
        grids = module.grids(args.scale)
    except (GridError, ValueError) as err:  # ValueError: a scale the experiment lacks
        return _fail("reproduce", err)
    try:
        store = Store(_store_path(args))
    except StoreError as err:
        return _fail("reproduce", err)
    from jaxmem.sweep import run_sweep

    out_dir = args.out or os.path.join("jaxmem-figures", module.NAME)
    with store:
        runs = {}
        from jaxmem.sweep import OtherCodeError

        # A grid's records are computed by jaxmem alone (the experiment only names the grid,
        # which the config hashes hold): the same fingerprint as `jaxmem sweep`. What
        # `compute` writes itself is the experiment's code too (CodeAwareStore below).
        for grid in grids:
            try:
                stats = run_sweep(
                    grid,
                    store,
                    devices=args.devices,
                    progress=False if args.no_progress else None,
                    other_code=_other_code(args),
                )
            except (OtherCodeError, StoreError) as err:
                return _fail("reproduce", err)
            runs[grid.name] = stats.run_id
            print(
                f"{grid.name}: {stats.computed} datasets computed, {stats.skipped} already "
                f"in the store ({stats.seconds:.1f} s)",
                flush=True,
            )
        if hasattr(module, "compute"):  # records a sweep grid cannot express
            from jaxmem import provenance
            from jaxmem.store.code import CodeAwareStore

            aware = CodeAwareStore(
                store, provenance.provenance((module.__name__,)), _other_code(args)
            )
            try:
                runs.update(
                    module.compute(aware, args.scale, progress=False if args.no_progress else None)
                )
            except (OtherCodeError, StoreError) as err:
                return _fail("reproduce", err)
        os.makedirs(out_dir, exist_ok=True)
        paths = module.render(store, runs, out_dir)
    for path in paths:
        print(f"wrote {path}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jaxmem",
        description="Check theorems about memorization networks by running them: draw many "
        "random datasets, build the networks as jit-compiled vmapped JAX functions, "
        "and report a verdict with a confidence interval and a reproducible "
        "counterexample.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    v = sub.add_parser(
        "verify",
        help="run the registered claims and print a verdict per claim",
        description="Run registered claims. One line per claim: id, datasets, pass rate (or "
        "fitted exponent), interval, verdict (HOLDS, VIOLATED, INCONCLUSIVE, INFO), "
        "seconds. Exit code 0 unless a claim is VIOLATED (or crashes). Every dataset's "
        "record goes to the results store as it is computed; re-running the same "
        "command resumes: datasets the store holds (same claim, seed, chunk size and "
        "code) are read back, not recomputed, and the verdicts are those of a fresh run.",
    )
    v.add_argument(
        "--claim",
        action="append",
        metavar="ID",
        help="run only this claim (repeatable); default: all",
    )
    v.add_argument(
        "--scale",
        choices=["quick", "full"],
        default="quick",
        help="quick: small grids for CI and laptops (default); full: for a GPU",
    )
    v.add_argument("--seed", type=int, default=0, help="root seed of every dataset (default 0)")
    v.add_argument(
        "--json",
        action="store_true",
        help="print a JSON list instead of a table (each claim with its grid: "
        "configs, datasets, passes, undecided, intervals)",
    )
    v.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="print each claim's grid under it: every config with its datasets, "
        "passes, undecided and its own 95%% interval",
    )
    v.add_argument("--list", action="store_true", help="list the registered claims and exit")
    v.add_argument(
        "--reproduce",
        metavar="ID",
        help="rebuild one dataset of claim ID (with --index) and print its metrics",
    )
    v.add_argument(
        "--index",
        type=int,
        metavar="K",
        help="the dataset to rebuild: its index over the claim's grid, as printed "
        "in a VIOLATED line",
    )
    v.add_argument(
        "--save",
        metavar="FILE.npz",
        help="with --reproduce: write the dataset's X and y to FILE.npz",
    )
    v.add_argument(
        "--chunk-size",
        type=int,
        default=None,
        help="datasets per compiled vmapped call (bounds memory; default 256)",
    )
    v.add_argument(
        "--exact-budget",
        type=float,
        default=None,
        metavar="SECONDS",
        help="seconds per claim for re-deciding, in exact arithmetic, the datasets "
        "that floating point cannot decide (default 120; 0: none); what is "
        "left is reported as undecided",
    )
    _include_argument(v)
    _store_argument(v)
    v.add_argument(
        "--no-store",
        action="store_true",
        help="write neither records nor verdicts to the results store (nothing to resume from)",
    )
    _device_arguments(v)

    s = sub.add_parser(
        "sweep",
        help="run a grid (TOML) of configs x datasets into the results store",
        description="Run every config of a grid, one record per dataset, into the results "
        "store. Re-running the same command resumes: datasets already in the store "
        "are skipped, and each record is written exactly once. Several processes "
        "may run the same grid on one store at once; they share the work.",
        epilog="A grid: name, construction, data, labels, datasets, seed, dtype, chunk_size "
        "and an [axes] table (n, d and the construction's options; lists or "
        "{start, stop, step} / {start, stop, num, scale} ranges). See "
        "`jaxmem sweep --list` and jaxmem/sweep/grid.py.",
    )
    s.add_argument("grid", nargs="?", metavar="GRID.toml", help="the grid file")
    _include_argument(s)
    _store_argument(s)
    s.add_argument(
        "--chunk-size",
        type=int,
        metavar="C",
        help="datasets per compiled call (default: the grid's, else chosen from "
        "the compiled program's memory use)",
    )
    s.add_argument(
        "--datasets",
        type=int,
        metavar="N",
        help="datasets per config, overriding the grid's (a larger N extends a finished sweep)",
    )
    _device_arguments(s)
    s.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    s.add_argument(
        "--exact-budget",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="seconds in all for re-deciding, on the host, the fits floating point "
        "cannot decide (default 60; 0: none); the rest stay undecided",
    )
    s.add_argument(
        "--allow-large",
        action="store_true",
        help="skip the size check (estimated memory per dataset, records, work) "
        "that refuses grids this machine cannot hold, before anything is "
        "written",
    )
    _other_code_arguments(s)
    _data_dir_argument(s)
    s.add_argument("--json", action="store_true", help="print the summary as JSON")
    s.add_argument(
        "--list",
        action="store_true",
        help="list the constructions and data a grid can name, and exit",
    )
    s.add_argument(
        "--example",
        metavar="CONSTRUCTION",
        help="print a small grid (TOML) for this construction, and exit",
    )

    r = sub.add_parser(
        "results",
        help="list, show and export what the results store holds",
        description="Read the results store: `list` its runs, `show RUN` one run (RUN: a run "
        "id or a sweep name, meaning its newest run), `export RUN` its records.",
    )
    r.add_argument("action", choices=["list", "show", "export"])
    r.add_argument("run", nargs="?", metavar="RUN", help="a run id or a sweep name")
    _store_argument(r)
    r.add_argument(
        "--format",
        choices=["csv", "parquet"],
        default="csv",
        help="export format (parquet needs pyarrow)",
    )
    r.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="export to FILE (default: SWEEP.csv / SWEEP.parquet, the sweep name "
        "made a safe file name); never the store or another SQLite file",
    )
    r.add_argument(
        "--force",
        action="store_true",
        help="with export: replace FILE if it exists (never a SQLite file)",
    )
    r.add_argument("--json", action="store_true", help="list/show as JSON")

    p = sub.add_parser(
        "reproduce",
        help="regenerate a paper figure or table from the results store",
        description="Run an experiment's grids through the sweep engine (resuming what the "
        "store holds), then render its figures (PNG) and tables (CSV, Markdown) "
        "from the store alone.",
    )
    p.add_argument("name", nargs="?", metavar="NAME", help="the experiment (see --list)")
    p.add_argument(
        "--list", action="store_true", help="list the experiments and what they regenerate"
    )
    p.add_argument(
        "--scale",
        metavar="SCALE",
        default="quick",
        help="quick: small grids (default); full: the paper's sizes, for a GPU; or a scale "
        "the experiment defines (its SCALES, e.g. yu2024_width's `paper`)",
    )
    p.add_argument("--out", metavar="DIR", help="output folder (default ./jaxmem-figures/NAME/)")
    _include_argument(p)
    _store_argument(p)
    p.add_argument("--devices", type=int, metavar="N", help="as for sweep")
    p.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    _other_code_arguments(p)
    _data_dir_argument(p)

    f = sub.add_parser(
        "falsify",
        help="search a claim's domain for a counterexample, confirm it and shrink it",
        description="Search for a dataset that violates CLAIM (structured hard cases, gradient "
        "ascent on the claim's violation score, an evolution strategy; `random` is the claim's "
        "own sampler), confirm a candidate (three-valued float64 decision, fresh construction "
        "keys, exact arithmetic where the claim has it), shrink it and save it as .npz.",
    )
    f.add_argument("claim", metavar="CLAIM", help="a claim id (see `jaxmem verify --list`)")
    f.add_argument(
        "--config",
        metavar="K=V,...",
        help="the config to search (e.g. n=8,d=2); default: each of the claim's quick configs",
    )
    f.add_argument("--budget", type=int, default=2000, help="evaluations per config (2000)")
    f.add_argument("--seconds", type=float, help="also stop after this many seconds per config")
    f.add_argument(
        "--method",
        action="append",
        choices=("structured", "gradient", "evolution", "random", "adaptive"),
        help="searchers to run, in turn (repeatable; default structured, gradient, evolution; "
        "a probabilistic claim: adaptive, or random)",
    )
    f.add_argument("--seed", type=int, default=0, help="seed of the search (0)")
    f.add_argument("--out", metavar="DIR", default=".", help="where a counterexample is saved")
    f.add_argument("--reproduce", metavar="FILE", help="re-decide a saved counterexample")
    f.add_argument("--json", action="store_true", help="print the result as JSON")
    _include_argument(f)
    return parser


def _data_dir_argument(parser) -> None:
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="where MNIST (IDX files) and CIFAR-10 (python batches) are read "
        "from (default: $JAXMEM_DATA, else ~/.cache/jaxmem/data)",
    )


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def _print_example(name: str) -> int:
    """`jaxmem sweep --example NAME`: the construction's example grid as a TOML file."""
    from jaxmem.constructions import protocol

    try:
        entry = protocol.resolve(name)
    except KeyError as err:
        return _fail("sweep", err.args[0])
    if entry.example is None:
        return _fail("sweep", f"construction {name} declares no example grid")
    example = dict(entry.example)
    axes = example.pop("axes", {})
    lines = [
        f"# {entry.citation}" if entry.citation else f"# {entry.name}",
        f"name = {_toml_value(name + '-example')}",
        f"construction = {_toml_value(name)}",
    ]
    lines += [f"{k} = {_toml_value(v)}" for k, v in example.items()]
    lines += ["datasets = 16", "", "[axes]"] + [f"{k} = {_toml_value(v)}" for k, v in axes.items()]
    print("\n".join(lines))
    return EXIT_OK


def _device_arguments(parser) -> None:
    parser.add_argument(
        "--devices",
        type=int,
        metavar="N",
        help="run blocks of datasets on the first N local devices (default: all)",
    )
    parser.add_argument(
        "--distributed",
        action="store_true",
        help="multi-process run: call jax.distributed.initialize, run blocks on every "
        "process's devices; process 0 writes the store (and prints)",
    )
    parser.add_argument(
        "--coordinator",
        metavar="HOST:PORT",
        help="with --distributed: the coordinator (default: $JAX_COORDINATOR_ADDRESS "
        "or auto-detected on SLURM / Open MPI / TPU)",
    )
    parser.add_argument("--num-processes", type=int, metavar="N", help="with --distributed")
    parser.add_argument("--process-id", type=int, metavar="I", help="with --distributed")


def _include_argument(parser) -> None:
    parser.add_argument(
        "--include",
        action="append",
        metavar="PATH",
        default=[],
        help="import a plugin (a .py file, or a folder of them) that registers "
        "claims, constructions, data families or experiments; repeatable",
    )


def _store_argument(parser) -> None:
    parser.add_argument(
        "--store",
        metavar="PATH",
        help="the results store (default: $JAXMEM_STORE, else ./jaxmem-results.sqlite)",
    )


def _parse_config(text: str) -> dict:
    config = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep or not name:
            raise ValueError(f"--config takes K=V pairs separated by commas; got {part!r}")
        try:
            config[name.strip()] = json.loads(value)
        except json.JSONDecodeError:
            config[name.strip()] = value.strip()
    return config


def _falsify(args) -> int:
    """`jaxmem falsify`: exit 0 when nothing is found, 1 on a confirmed counterexample, 2 on
    bad input (an unknown claim, a bad config or file)."""
    _configure_jax("quick")
    try:
        return _falsify_run(args)
    except KeyError as err:
        return _fail("falsify", err.args[0] if err.args else err)
    except (ValueError, OSError) as err:
        return _fail("falsify", err)


def _falsify_run(args) -> int:
    from jaxmem import claims, falsify

    claim = claims.get(args.claim)
    if args.reproduce:
        case = falsify.load_case(args.reproduce)
        if case["claim"] != claim.id:
            raise ValueError(
                f"{args.reproduce} is a counterexample to {case['claim']}, not to {claim.id}"
            )
        verdict = falsify.recheck(claim, case)
        line = (
            f"{claim.id} [{falsify._config_text(verdict['config'])}]: {verdict['status']} - "
            f"{verdict.get('detail', '')}"
        )
        print(json.dumps(_case_json(verdict)) if args.json else line)
        return 1 if verdict["status"] == falsify.CONFIRMED else 0
    probabilistic = getattr(claim.rule, "kind", None) == "probabilistic"
    universal = getattr(claim.rule, "kind", None) == "universal"
    if getattr(claim, "falsify", None) is None and not (probabilistic or universal):
        raise ValueError(
            f"claim {claim.id} declares no Falsifiable (check, domain, score): "
            "it cannot be searched; see docs/falsify.md"
        )
    # One search over all the quick configs: where is a probabilistic claim's rate below p,
    # which config's own trial fails (a universal claim with no Falsifiable)?
    over_configs = probabilistic or (universal and getattr(claim, "falsify", None) is None)
    if args.budget < 1:
        raise ValueError(f"--budget must be a positive number of evaluations; got {args.budget}")
    configs: list = [_parse_config(args.config)] if args.config else claim.configs("quick")
    if over_configs:
        configs = [None] if not args.config else configs
    methods = tuple(args.method) if args.method else ("structured", "gradient", "evolution")
    found = 0
    results = []
    for config in configs:
        search = falsify.falsify(
            claim, config, budget=args.budget, seconds=args.seconds, methods=methods, seed=args.seed
        )
        results.append(search)
        if not args.json:
            print(search.summary())
        if search.counterexample is not None:
            found += 1
            case = search.counterexample
            os.makedirs(args.out, exist_ok=True)
            path = os.path.join(args.out, f"{claim.id}-counterexample-{found}.npz")
            falsify.save_case(case, path)
            if not args.json:
                if "X" in case:
                    print(
                        f"  {case['detail']}; fresh construction keys failing: "
                        f"{case.get('fresh_key_failures')}"
                    )
                print(f"  saved {path}; re-decide it with:")
                includes = "".join(f" --include {shlex.quote(p)}" for p in args.include)
                print(f"  jaxmem falsify {claim.id}{includes} --reproduce {shlex.quote(path)}")
            case["path"] = path
            break
    if args.json:
        print(
            json.dumps(
                [
                    dict(
                        claim=r.claim,
                        config=r.config,
                        budget=r.budget,
                        evaluations=r.evaluations,
                        seconds=r.seconds,
                        methods=r.methods,
                        first_failure=r.first_failure,
                        artefacts=len(r.artefacts),
                        counterexample=None
                        if r.counterexample is None
                        else _case_json(r.counterexample),
                    )
                    for r in results
                ]
            )
        )
    return 1 if found else 0


def _case_json(case: dict) -> dict:
    out = {}
    for k, v in case.items():
        out[k] = v.tolist() if hasattr(v, "tolist") else v
    return out


COMMANDS = {
    "sweep": _sweep,
    "results": _results,
    "reproduce": _reproduce,
    "falsify": _falsify,
}


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that runs end as 'interrupted' like Ctrl-C."""


EXIT_SIGINT, EXIT_SIGTERM, EXIT_PIPE = 130, 143, 141


def _on_sigterm(signum, frame):
    raise Terminated()


def main(argv=None) -> int:
    """The console script: one line and a conventional exit code for an interrupt (130),
    SIGTERM (143), a closed pipe (141, e.g. `jaxmem verify | head`), a full disk or any
    other OS error (2), instead of a traceback."""
    import errno
    import signal

    previous = signal.getsignal(signal.SIGTERM)
    try:
        signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (an embedding program): leave it
        previous = None
    try:
        return _main(argv)
    except Terminated:
        print("jaxmem: terminated (SIGTERM); the run is marked interrupted", file=sys.stderr)
        return EXIT_SIGTERM
    except KeyboardInterrupt:
        print(
            "jaxmem: interrupted; the run is marked interrupted (re-run the same command "
            "to resume)",
            file=sys.stderr,
        )
        return EXIT_SIGINT
    except BrokenPipeError:
        # The reader went away: send what is left of stdout to /dev/null (Python's advice)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_PIPE
    except OSError as err:
        reason = "the disk is full" if err.errno == errno.ENOSPC else (err.strerror or str(err))
        print(f"jaxmem: {reason}" + (f" ({err.filename})" if err.filename else ""), file=sys.stderr)
        return EXIT_USAGE
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    from jaxmem import registry

    try:
        for path in getattr(args, "include", []):
            registry.include(path)
        return _run(parser, args)
    except registry.PluginError as err:
        return _fail(args.command, err)


def _run(parser, args) -> int:
    if args.command == "verify":
        if args.chunk_size is not None and args.chunk_size < 1:
            parser.error("--chunk-size must be positive")
        if not 0 <= args.seed < 2**63:
            parser.error(f"--seed must be an integer in [0, 2^63); got {args.seed}")
        if args.exact_budget is None:
            from jaxmem.claims import EXACT_BUDGET

            args.exact_budget = EXACT_BUDGET
        elif not 0 <= args.exact_budget < float("inf"):
            parser.error("--exact-budget must be a finite number of seconds >= 0")
        _configure_jax(args.scale)
        return _verify(args)
    if args.command == "sweep" and not 0 <= args.exact_budget < float("inf"):
        parser.error("--exact-budget must be a finite number of seconds >= 0")
    if getattr(args, "recompute", False) and getattr(args, "accept_old_records", False):
        parser.error("--recompute and --accept-old-records exclude each other")
    return COMMANDS[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
