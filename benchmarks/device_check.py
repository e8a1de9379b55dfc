"""One command for an accelerator session: the device tests, then the workloads jaxmem's users
run on GPUs, each timed, with the same run's CPU figure beside it and, for the dense kernels,
the fraction of the device's peak they reach.

    python benchmarks/device_check.py [--json PATH] [--only PART,...] [--no-cpu-beside]
    python benchmarks/device_check.py --cpu-smoke      # the same code paths, tiny, on the CPU

Parts (one line each, and one JSON record each):
    tests     `pytest -m "device and not slow"`: the sweep engine, the float64 decisions and
              the network algebra on the default device (--cpu-smoke: collected, not run)
    moons     Dirksen-Finke-Genzel's full two-moons grid through the sweep engine (51 lambdas
              x 50 widths x 50 restarts = 127,500 networks; goal on one H100: under 60 s)
    m1_cifar  Yu et al.'s M1 on 45 generated CIFAR-10-shaped pairs (3072 pixels, 3000 training
              images per class: N = 6000 per pair, 2000 test images; goal: under 30 s)
    training  vmapped training throughput (networks x steps per second, jaxmem.training.mlp)
    zhang     Zhang et al.'s 2n + d network: 1000 datasets (n = 1000, d = 20) built and checked
    bubeck    Bubeck et al.'s 4 ceil(n/d) network: the same 1000 datasets
    kernels   dense matmul (float32 at the default precision and at HIGHEST, float64) and M1's
              Gram matrix, in FLOP/s and as a fraction of the device's peak

The CPU figure beside each part is measured in the same run, in a child process with
JAX_PLATFORMS=cpu, on a smaller size of the same work (its rate is what is compared); a part
whose work does not scale down that way says so. Timed runs follow a warm-up call that
compiles, and the compile time is reported apart. Exit status 0 when every part ran and its
checks held (all networks of the Zhang batch interpolate, the tests pass, ...), 1 otherwise.

Rehearsed on the 2-core CPU with --cpu-smoke (CI runs it: under 2 minutes); the device figures
go into the README's Benchmarks section once a GPU has run it.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import jax

jax.config.update("jax_enable_x64", True)   # float64 exactness checks, as jaxmem's CLI

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)   # bench_constructions' trial and constructions

PARTS = ("tests", "moons", "m1_cifar", "training", "zhang", "bubeck", "kernels")

# Sizes per profile. "device": the goals above; "cpu_beside": the CPU figure's share of the
# same work on the device machine's CPU; "smoke": tiny, for CI.
SIZES = {
    "device": dict(
        moons=dict(width_stride=1, restarts=50),
        m1_cifar=dict(pairs=45, per_class=3000, test_per_class=1000),
        training=dict(lanes=4096, N=256, d=32, width=128, steps=500),
        construction=dict(datasets=1000, n=1000, d=20, chunk=250),
        kernels=dict(matmul=8192, gram_N=6000, gram_n=3072, repeats=10),
    ),
    "cpu_beside": dict(
        moons=dict(width_stride=10, restarts=50),          # every 10th width: 1/10 of the grid
        m1_cifar=dict(pairs=1, per_class=3000, test_per_class=1000),
        training=dict(lanes=256, N=256, d=32, width=128, steps=100),
        construction=dict(datasets=100, n=1000, d=20, chunk=10),
        kernels=dict(matmul=2048, gram_N=6000, gram_n=3072, repeats=2),
    ),
    "smoke": dict(
        moons=dict(widths=[20, 60], lambdas=[0.0, 1.0], restarts=4),
        m1_cifar=dict(pairs=2, per_class=40, test_per_class=20),
        training=dict(lanes=8, N=32, d=8, width=16, steps=20),
        construction=dict(datasets=8, n=50, d=5, chunk=4),
        kernels=dict(matmul=256, gram_N=200, gram_n=64, repeats=2),
    ),
}

# Dense peak FLOP/s from NVIDIA's datasheets (SXM / PCIe; tensor-core figures without
# sparsity). XLA runs float32 dots on the tensor cores as TF32 at the default precision.
PEAKS = {
    "H100 PCIe": dict(float32=51e12, tf32=378e12, float64=51e12),
    "H100": dict(float32=67e12, tf32=495e12, float64=67e12),   # SXM (80GB HBM3)
    "H200": dict(float32=67e12, tf32=495e12, float64=67e12),
    "A100": dict(float32=19.5e12, tf32=156e12, float64=19.5e12),
}


def device_peaks() -> tuple[str, dict | None]:
    kind = jax.devices()[0].device_kind
    for name, peaks in PEAKS.items():   # "H100 PCIe" before "H100"
        if name in kind:
            return kind, peaks
    return kind, None


def timed(fn, *args):
    """(seconds of a warm call, compile seconds = first call - warm call, result)."""
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    warm = time.perf_counter() - t0
    return warm, max(first - warm, 0.0), out


# --- parts -----------------------------------------------------------------------------------

def part_tests(profile: str, size=None) -> dict:
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m",
            "device and not slow"]
    if profile == "smoke":
        args.append("--collect-only")
    t0 = time.perf_counter()
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    seconds = time.perf_counter() - t0
    tail = (proc.stdout.strip().splitlines() or [""])[-1]
    ok = proc.returncode == 0 and ("passed" in tail or "collected" in tail)
    return dict(part="tests", ok=ok, seconds=seconds, summary=tail,
                mode="collected" if profile == "smoke" else "run")


def part_moons(profile: str, size: dict) -> dict:
    from jaxmem.experiments import genzel2023_moons as gm
    from jaxmem.store import Store
    from jaxmem.sweep import parse_grid, run_sweep

    spec = gm.grid_spec("full")
    axes = spec["axes"]
    if "widths" in size:
        axes["width"], axes["max_bias"] = size["widths"], size["lambdas"]
    else:
        axes["width"] = axes["width"][::size["width_stride"]]
    spec["datasets"] = size["restarts"]
    spec["name"] = f"device_check.moons.{profile}"
    grid = parse_grid(spec, source="device_check")
    networks = len(grid.configs()) * grid.datasets
    with tempfile.TemporaryDirectory() as tmp:
        with Store(os.path.join(tmp, "moons.sqlite")) as store:
            t0 = time.perf_counter()
            stats = run_sweep(grid, store, progress=False, stream=io.StringIO())
            seconds = time.perf_counter() - t0
            records = store.records(stats.run_id)
    interp = float(np.mean([bool(r["interpolated"]) for r in records]))
    return dict(part="moons", ok=stats.computed == networks == len(records), seconds=seconds,
                compile_seconds=stats.compile_seconds, work=networks, unit="networks",
                rate=networks / seconds, p_interpolation=interp,
                # compile once, compute in proportion (a sample of the grid's widths)
                projected_full_grid_s=stats.compile_seconds + (seconds - stats.compile_seconds)
                * 127_500 / networks,
                goal_s=60.0 if profile == "device" else None)


def cifar_shaped_pair(key, per_class: int, test_per_class: int, n: int = 3072):
    """Two classes of CIFAR-10-shaped points in [0, 1]^3072: a smooth random prototype per class
    plus per-image noise and a random contrast, so that pairs are neither trivial nor random."""
    kp, kx, kc, kt = jax.random.split(key, 4)
    protos = jax.random.uniform(kp, (2, n))
    def draw(k, count):
        k1, k2 = jax.random.split(k)
        labels = jnp.repeat(jnp.array([-1.0, 1.0]), count)
        base = protos[(labels > 0).astype(int)]
        contrast = 0.5 + jax.random.uniform(k1, (2 * count, 1))
        X = jnp.clip(0.5 + contrast * (base - 0.5)
                     + 0.35 * jax.random.normal(k2, (2 * count, n)), 0, 1)
        return X, labels
    X, y = draw(kx, per_class)
    T, yT = draw(kt, test_per_class)
    return X, y, T, yT


def part_m1_cifar(profile: str, size: dict) -> dict:
    from jaxmem.constructions import yu2024

    @jax.jit
    def m1_pair(X, y, T, yT):
        m1, info = yu2024.build(None, X, y)
        ev = yu2024.evaluate(m1, T, yT)
        return ev["accuracy"], ev["nn_accuracy"], info["valid"]

    pairs = [cifar_shaped_pair(jax.random.key(p), size["per_class"], size["test_per_class"])
             for p in range(size["pairs"])]
    t0 = time.perf_counter()
    first = jax.block_until_ready(m1_pair(*pairs[0]))
    first_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    rest = [jax.block_until_ready(m1_pair(*p)) for p in pairs[1:]]
    rest_s = time.perf_counter() - t0
    out = [first] + rest
    per_pair = rest_s / len(rest) if rest else first_s
    total = first_s + rest_s
    acc = np.array([float(a) for a, _, _ in out])
    return dict(part="m1_cifar", ok=all(bool(v) for _, _, v in out), seconds=total,
                compile_seconds=max(first_s - per_pair, 0.0), work=len(pairs), unit="pairs",
                rate=1.0 / per_pair, m1_accuracy_mean=float(acc.mean()),
                nn_accuracy_mean=float(np.mean([float(b) for _, b, _ in out])),
                N_per_pair=2 * size["per_class"], goal_s=30.0 if profile == "device" else None)


def part_training(profile: str, size: dict) -> dict:
    from jaxmem.training import mlp

    lanes, N, d, steps = size["lanes"], size["N"], size["d"], size["steps"]
    trainer = mlp.Trainer(hidden=(size["width"],), loss="logistic", optimizer="adam",
                          max_steps=steps, freeze=False)
    kx, ky = jax.random.split(jax.random.key(1))
    X = jax.random.normal(kx, (lanes, N, d), jnp.float32) / np.sqrt(d)
    y = jnp.where(jax.random.bernoulli(ky, 0.5, (lanes, N)), 1.0, -1.0).astype(jnp.float32)
    keys = jax.random.split(jax.random.key(2), lanes)
    seconds, compile_s, res = timed(lambda: mlp.train(trainer, X, y, keys, lr=1e-2))
    return dict(part="training", ok=bool(np.isfinite(np.asarray(res.loss)).all()),
                seconds=seconds, compile_seconds=compile_s, work=lanes * steps,
                unit="network-steps", rate=lanes * steps / seconds,
                sample_steps_per_s=lanes * N * steps / seconds, lanes=lanes)


def part_construction(part: str, name: str):
    def run(profile: str, size: dict) -> dict:
        import bench_constructions as bc

        from jaxmem.sweep import run_chunked

        build = bc.CONSTRUCTIONS[name][0]
        keys = jax.random.split(jax.random.key(0), size["datasets"])
        seconds, compile_s, out = timed(lambda: run_chunked(
            bc.trial, keys, size["chunk"], build=build, n=size["n"], d=size["d"]))
        return dict(part=part, ok=bool(np.asarray(out["interpolates"]).all()), seconds=seconds,
                    compile_seconds=compile_s, work=size["datasets"],
                    unit="datasets", rate=size["datasets"] / seconds,
                    max_abs_error=float(np.max(out["max_abs_error"])))
    return run


def part_kernels(profile: str, size: dict) -> dict:
    kind, peaks = device_peaks()
    m = size["matmul"]
    key = jax.random.key(3)
    results = {}
    cases = [("matmul_f32_default", jnp.float32, None, "tf32"),
             ("matmul_f32_highest", jnp.float32, jax.lax.Precision.HIGHEST, "float32"),
             ("matmul_f64", jnp.float64, None, "float64")]
    for name, dtype, precision, peak_key in cases:
        A = jax.random.normal(key, (m, m), dtype)
        f = jax.jit(lambda a, p=precision: jnp.matmul(a, a, precision=p))
        seconds = min(timed(f, A)[0] for _ in range(size["repeats"]))
        flops = 2.0 * m ** 3 / seconds
        results[name] = dict(flops_per_s=flops, peak_fraction=None if peaks is None
                             else flops / peaks[peak_key], peak_key=peak_key)
    N, n = size["gram_N"], size["gram_n"]
    for dtype, peak_key in ((jnp.float32, "tf32"), (jnp.float64, "float64")):
        X = jax.random.uniform(key, (N, n), dtype)
        f = jax.jit(lambda x: x @ x.T)   # M1's pairwise distances start from this Gram matrix
        seconds = min(timed(f, X)[0] for _ in range(size["repeats"]))
        flops = 2.0 * N * N * n / seconds
        results[f"gram_{jnp.dtype(dtype).name}"] = dict(
            flops_per_s=flops, peak_key=peak_key,
            peak_fraction=None if peaks is None else flops / peaks[peak_key])
    return dict(part="kernels", ok=all(math.isfinite(r["flops_per_s"]) for r in results.values()),
                device_kind=kind, matmul_size=m, gram_shape=[N, n], **results)


RUNNERS = dict(tests=part_tests, moons=part_moons, m1_cifar=part_m1_cifar,
               training=part_training, zhang=part_construction("zhang", "zhang2017"),
               bubeck=part_construction("bubeck", "bubeck2020"), kernels=part_kernels)
SIZE_OF = dict(moons="moons", m1_cifar="m1_cifar", training="training", zhang="construction",
               bubeck="construction", kernels="kernels", tests=None)


# --- reporting -------------------------------------------------------------------------------

def line(r: dict) -> str:
    """One line per part."""
    head = f"{r['part']:9s} {'ok  ' if r['ok'] else 'FAIL'}"
    if r["part"] == "tests":
        return f"{head} {r['mode']}: {r['summary']} ({r['seconds']:.0f} s)"
    if r["part"] == "kernels":
        parts = []
        for k, v in r.items():
            if isinstance(v, dict) and "flops_per_s" in v:
                frac = ("" if v["peak_fraction"] is None else
                        f" = {100 * v['peak_fraction']:.0f}% of {v['peak_key']} peak")
                cpu = v.get("cpu_flops_per_s")
                cpu_s = "" if cpu is None else f", CPU {cpu / 1e9:.0f} GFLOP/s"
                parts.append(f"{k} {v['flops_per_s'] / 1e12:.2f} TFLOP/s{frac}{cpu_s}")
        return f"{head} {r['device_kind']}: " + "; ".join(parts)
    text = (f"{head} {r['seconds']:.2f} s for {r['work']:,} {r['unit']} "
            f"({r['rate']:,.1f} {r['unit']}/s; compile {r.get('compile_seconds', 0):.1f} s)")
    if r.get("goal_s") is not None:
        text += f"; goal {r['goal_s']:g} s: {'met' if r['seconds'] <= r['goal_s'] else 'NOT met'}"
    if r.get("cpu_seconds_equiv") is not None:
        text += (f"; CPU in the same run: {r['cpu_seconds_equiv']:.1f} s for the same work "
                 f"(measured on {r['cpu_work']:,} {r['unit']}), device "
                 f"{r['cpu_seconds_equiv'] / r['seconds']:.1f}x faster")
    extra = {k: r[k] for k in ("p_interpolation", "m1_accuracy_mean", "max_abs_error")
             if k in r}
    if extra:
        text += "; " + ", ".join(f"{k} {v:.4g}" for k, v in extra.items())
    return text


def run_parts(profile: str, parts) -> list[dict]:
    out = []
    for name in parts:
        size = None if SIZE_OF[name] is None else SIZES[profile][SIZE_OF[name]]
        try:
            r = RUNNERS[name](profile, size)
        except Exception as err:   # a part that fails says why; the others still run
            r = dict(part=name, ok=False, error=f"{type(err).__name__}: {err}")
        out.append(r)
    return out


def cpu_beside(parts, child_profile: str = "cpu_beside") -> dict:
    """The CPU figures: this script in a child process with JAX_PLATFORMS=cpu."""
    parts = [p for p in parts if p != "tests"]
    if not parts:
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "cpu.json")
        env = dict(os.environ, JAX_PLATFORMS="cpu")
        proc = subprocess.run([sys.executable, __file__, "--profile", child_profile, "--json",
                               path, "--only", ",".join(parts), "--no-cpu-beside", "--quiet"],
                              env=env, capture_output=True, text=True, timeout=420)
        if proc.returncode not in (0, 1) or not os.path.exists(path):
            print(f"cpu-beside: the CPU run failed: {proc.stderr.strip()[-500:]}")
            return {}
        with open(path) as f:
            return {r["part"]: r for r in json.load(f)["results"]}


def merge_cpu(results: list[dict], cpu: dict) -> None:
    for r in results:
        c = cpu.get(r["part"])
        if c is None or "error" in c:
            continue
        if r["part"] == "moons" and "projected_full_grid_s" in c:
            # the CPU's time for the device's grid, projected from its share of the widths
            r["cpu_seconds_equiv"] = c["projected_full_grid_s"] * r["work"] / 127_500
            r["cpu_work"] = c["work"]
        elif "rate" in c:
            r["cpu_seconds_equiv"], r["cpu_work"] = r["work"] / c["rate"], c["work"]
        if r["part"] == "kernels":
            for k, v in c.items():
                if isinstance(v, dict) and k in r:
                    r[k]["cpu_flops_per_s"] = v["flops_per_s"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cpu-smoke", action="store_true",
                   help="tiny sizes on the CPU: the code paths, not the figures (CI)")
    p.add_argument("--json", metavar="PATH", help="write every result here (default: "
                   "$OUT/device_check.json when $OUT is set, else device_check.json)")
    p.add_argument("--only", metavar="PARTS", help=f"comma-separated subset of {PARTS}")
    p.add_argument("--no-cpu-beside", action="store_true",
                   help="skip the CPU figures beside the device's")
    p.add_argument("--profile", choices=sorted(SIZES), help=argparse.SUPPRESS)
    p.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    profile = args.profile or ("smoke" if args.cpu_smoke else "device")
    if args.cpu_smoke and jax.default_backend() != "cpu":
        print("--cpu-smoke runs on the CPU: set JAX_PLATFORMS=cpu", file=sys.stderr)
        return 2
    parts = PARTS if args.only is None else tuple(args.only.split(","))
    unknown = set(parts) - set(PARTS)
    if unknown:
        print(f"unknown part(s) {sorted(unknown)}; known: {', '.join(PARTS)}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    header = (f"device_check ({profile}): jax {jax.__version__}, backend "
              f"{jax.default_backend()}, {jax.device_count()} x {jax.devices()[0].device_kind}")
    if not args.quiet:
        print(header, flush=True)
    results = run_parts(profile, parts)
    if profile == "device" and not args.no_cpu_beside and jax.default_backend() != "cpu":
        merge_cpu(results, cpu_beside(parts))
    elif profile == "smoke" and not args.no_cpu_beside:
        # the child process and the merge, rehearsed on one cheap part
        cheap = [p for p in parts if p == "zhang"]
        cpu = cpu_beside(cheap, "smoke")
        merge_cpu(results, cpu)
        for r in results:
            if r["part"] in cheap and "cpu_seconds_equiv" not in r:
                r["ok"], r["error"] = False, "the CPU-beside child process gave no figure"
    if not args.quiet:
        for r in results:
            print(line(r) if "error" not in r else f"{r['part']:9s} FAIL {r['error']}",
                  flush=True)
        print(f"total {time.perf_counter() - t0:.0f} s", flush=True)
    path = args.json or os.path.join(os.environ.get("OUT", "."), "device_check.json")
    with open(path, "w") as f:
        json.dump(dict(header=header, profile=profile, jax=jax.__version__,
                       backend=jax.default_backend(), results=results), f, indent=1,
                  default=float)
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
