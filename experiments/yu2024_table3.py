"""Yu, Gao, Zhang, Miao (NeurIPS 2024), App. I, Table 3: a ResNet-18 trained with SGD on every
CIFAR-10 class pair, the baseline the paper finds "significantly better" than M1's Table 2
(docs/papers/yu2024.md §4.1, §5.F).

The paper states ResNet-18, 20 epochs, learning rate 0.1, cross-entropy, the same 3000 images
per class as Table 2. What it does not state is chosen and documented in
`jaxmem.training.resnet` (SGD with momentum 0.9, weight decay 5e-4, batch 128, cosine decay,
random crop + flip, per-channel standardization with the training images' statistics, TF32
convolutions on GPUs).

Same draws as Table 2: draw d of pair (a, b) is `experiments.yu2024_tables.draw_pair`, so with
the same per-class count, test rule and seed, the ResNet and M1 see exactly the same training
images (label +1 = the larger class b) and are tested on the same images. When the store
holds Table 2's M1 records for those draws, the outputs put M1 next to the ResNet, draw for
draw.

Scales: full is the paper's (5 draws per pair, 45 pairs: 225 networks of 20 epochs; an
accelerator's job). quick runs the same code on a small network (widths 8-16-32-64, one block
per stage), 50 images per class (Table 2's quick draws), 200 test images per class, 1 epoch,
1 draw.

Records: as `yu2024_tables` (which see), one store run per invocation (sweep name
"yu2024_table3.cifar10"), one config per pair (the draw fields, the architecture and every
training setting), one record per draw; a pair's missing draws are trained together (vmapped
over draws) and written in one transaction, so a rerun skips finished pairs.

Outputs: yu2024_table3.png (ResNet, M1 on the same draws, their difference), yu2024_table3.csv
(one row per pair), yu2024_table3_matrix.csv (10x10 mean ResNet test accuracy),
yu2024_table3.md.
"""

from __future__ import annotations

import functools

import jax
import numpy as np

from jaxmem.experiment import register_experiment, run_experiment
from jaxmem.experiments import yu2024_tables as tables
from jaxmem.experiments._records import RunStats, scale_size
from jaxmem.sweep.runner import Job, root_key_datas
from jaxmem.tables import markdown_table

NAME = "yu2024_table3"
REGENERATES = ("Yu, Gao, Zhang, Miao 2024, Table 3: ResNet-18 (SGD, 20 epochs, lr 0.1) on all "
               "45 CIFAR-10 class pairs, on Table 2's draws, next to M1 (needs the CIFAR-10 "
               "files)")

TABLE = "cifar10"
PAIRS = tables.PAIRS
RESNET18 = dict(widths=[64, 128, 256, 512], blocks=[2, 2, 2, 2])
# matmul_precision "default": TF32 convolutions on GPUs, as PyTorch's cuDNN default (the
# paper's RTX 3090 run most likely used it); no effect on CPUs.
TRAINING = dict(epochs=20, lr=0.1, batch_size=128, momentum=0.9, weight_decay=5e-4,
                schedule="cosine", augment=True, standardize=True, matmul_precision="default")
SCALES = {
    "quick": dict(per_class=50, test_per_class=200, draws=1,
                  network=dict(widths=[8, 16, 32, 64], blocks=[1, 1, 1, 1]),
                  training=dict(TRAINING, epochs=1, batch_size=32)),
    "full": dict(per_class=3000, test_per_class=None, draws=5, network=RESNET18,
                 training=dict(TRAINING)),
}
PAIR_COLUMNS = ("negative", "positive", "draws", "per_class", "test_per_class", "n_test",
                "resnet_accuracy_mean", "resnet_accuracy_sd", "resnet_train_accuracy_mean",
                "m1_accuracy_mean", "m1_draws", "resnet_minus_m1_mean", "nn_accuracy_mean",
                "param_count", "epochs", "seconds_per_draw")


def sweep_name() -> str:
    return f"{NAME}.{TABLE}"


def pair_config(data, size: dict, negative: int, positive: int) -> dict:
    fields = tables.pair_fields(TABLE, data, size, negative, positive)
    return dict(experiment=NAME, construction="resnet", dtype="float32", **size["network"],
                **size["training"], **fields)


def train_key(negative: int, positive: int, draw: int) -> jax.Array:
    """The initialization / shuffle / augmentation key of draw d (the draw's key, folded)."""
    return jax.random.fold_in(tables.draw_key(tables.SEED, negative, positive, draw), 1)


def train_pair(data, size: dict, negative: int, positive: int, draws) -> dict:
    """The ResNet on the given draws of one pair, trained together: record columns."""
    from jaxmem.training import resnet
    draws = list(draws)
    drawn = [tables.draw_pair(data, negative, positive, per_class=size["per_class"],
                              test_per_class=size["test_per_class"], draw=d) for d in draws]
    test_sizes = {len(dr["test_idx"]) for dr in drawn}
    if len(test_sizes) != 1:
        raise ValueError(f"pair ({negative}, {positive}): draws have test sets of sizes "
                         f"{sorted(test_sizes)}; the vmapped trainer needs one size")
    X_train = np.stack([tables.images(data, data.X_train[dr["train_idx"]]) for dr in drawn])
    X_test = np.stack([tables.images(data, data.X_test[dr["test_idx"]]) for dr in drawn])
    keys = jax.numpy.stack([train_key(negative, positive, d) for d in draws])
    net, training = size["network"], size["training"]
    out = resnet.train_resnet_draws(
        keys, X_train, np.stack([dr["y_train"] for dr in drawn]), X_test,
        np.stack([dr["y_test"] for dr in drawn]), widths=tuple(net["widths"]),
        blocks=tuple(net["blocks"]), **training)
    n = len(draws)
    return dict(test_accuracy=out["test_accuracy"], train_accuracy=out["train_accuracy"],
                final_train_loss=out["final_train_loss"],
                final_batch_accuracy=out["final_batch_accuracy"],
                n_train=np.full(n, X_train.shape[1]), n_test=np.full(n, X_test.shape[1]),
                param_count=np.full(n, out["param_count"], np.int64),
                steps_per_epoch=np.full(n, out["steps_per_epoch"]),
                seconds=np.full(n, out["seconds"] / n))


def run(store, scale: str, *, pairs=None, progress: bool | None = None,
        stream=None) -> RunStats:
    """Trains what the store lacks (one transaction per pair; pairs: default all 45); prints
    one line."""
    pairs = PAIRS if pairs is None else tuple(pairs)
    size = scale_size(SCALES, scale)
    data = tables.load_table_data(TABLE)
    draws = size["draws"]
    configs = [pair_config(data, size, *pair) for pair in pairs]
    grid = dict(experiment=NAME, scale=scale, pairs=[list(p) for p in pairs], **size)

    def trial(negative, positive, keys, indices):
        # Each network is costly: only the draws the store lacks are trained (together). The
        # draws' keys are train_key's, not the engine's.
        return train_pair(data, size, negative, positive, indices)

    jobs = [Job(config=c, datasets=draws, root=root, trial=functools.partial(trial, a, b),
                program=(NAME,), host=True, block=True, chunk_size=draws)
            for (a, b), c, root in zip(pairs, configs, root_key_datas(tables.SEED, configs))]
    stats = RunStats.from_engine(run_experiment(store, sweep_name(), grid, jobs,
                                                progress=progress))
    stats.report(sweep_name(), stream)
    return stats


def grids(scale: str) -> list:
    """No sweep grids; checks the CIFAR-10 files (a GridError saying how to provide them)."""
    scale_size(SCALES, scale)
    tables.check_data((TABLE,), f"{NAME} ({scale})")
    return []


def compute(store, scale: str, *, progress: bool | None = None) -> dict:
    """`jaxmem reproduce`'s hook: trains what the store lacks; {NAME: run id} for `render`."""
    return {NAME: run(store, scale, progress=progress).run_id}


def render(store, runs: dict, out_dir: str) -> list[str]:
    """Table 3 from the store (the run `compute` made, else the newest)."""
    return render_table(store, out_dir, run_id=runs.get(NAME))


# --- tables ----------------------------------------------------------------------------------

_DRAW_FIELDS = ("data", "data_fingerprint", "negative", "positive", "per_class",
                "test_per_class", "test_split", "seed", "draw_rule")


def _draw_key(record: dict) -> tuple:
    return tuple(record[k] for k in _DRAW_FIELDS) + (record["dataset_index"],)


def m1_by_draw(store) -> dict:
    """Table 2's M1 records in the store, from every run of it (any scale), by draw
    identity (the fields that fix the images, and the draw)."""
    out = {}
    for run_row in store.runs():   # oldest first: a record two runs share is the same
        if run_row["sweep"] == tables.sweep_name(TABLE):
            out.update((_draw_key(r), r) for r in store.records(run_row["run_id"]))
    return out


def pair_rows(records: list[dict], m1: dict) -> list[dict]:
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault((int(r["negative"]), int(r["positive"])), []).append(r)
    rows = []
    for (a, b), group in sorted(groups.items()):
        acc, sd = tables.mean_sd([r["test_accuracy"] for r in group])
        same = [m1[_draw_key(r)] for r in group if _draw_key(r) in m1]
        m1_acc = float(np.mean([r["accuracy"] for r in same])) if same else float("nan")
        nn = float(np.mean([r["nn_accuracy"] for r in same])) if same else float("nan")
        paired = [r["test_accuracy"] - m1[_draw_key(r)]["accuracy"] for r in group
                  if _draw_key(r) in m1]
        rows.append(dict(
            negative=a, positive=b, draws=len(group), per_class=int(group[0]["per_class"]),
            test_per_class=group[0]["test_per_class"],
            n_test=float(np.mean([r["n_test"] for r in group])),
            resnet_accuracy_mean=acc, resnet_accuracy_sd=sd,
            resnet_train_accuracy_mean=float(np.mean([r["train_accuracy"] for r in group])),
            m1_accuracy_mean=m1_acc, m1_draws=len(same),
            resnet_minus_m1_mean=float(np.mean(paired)) if paired else float("nan"),
            nn_accuracy_mean=nn, param_count=int(group[0]["param_count"]),
            epochs=int(group[0]["epochs"]),
            seconds_per_draw=float(np.mean([r["seconds"] for r in group]))))
    return rows


def plot(rows: list[dict], path: str) -> str:
    from jaxmem.experiments import _genzel2023 as g
    have_m1 = any(r["m1_draws"] for r in rows)
    panels = 3 if have_m1 else 1
    fig = tables.figure(5.6 * panels, 5.4, **tables.margins(TABLE))
    axes = np.atleast_1d(fig.subplots(1, panels))
    res = tables.matrix(rows, "resnet_accuracy_mean")
    values = [res] + ([tables.matrix(rows, "m1_accuracy_mean")] if have_m1 else [])
    low = min(float(np.nanmin(v)) for v in values)
    low = min(max(float(np.floor(10 * low - 1e-9) / 10), 0.0), 0.9)
    image = tables.heatmap(axes[0], res, TABLE, "ResNet test accuracy, %", vmin=low, vmax=1)
    if have_m1:
        tables.heatmap(axes[1], values[1], TABLE, "M1 (Table 2), same draws, %", vmin=low,
                       vmax=1)
        diff = tables.matrix(rows, "resnet_minus_m1_mean")
        top = max(float(np.nanmax(np.abs(diff))), 1e-3)
        d_image = tables.heatmap(axes[2], diff, TABLE, "ResNet minus M1 (same draws), points",
                                 vmin=-top, vmax=top, cmap="RdBu", diverging=True)
        tables.percent_colorbar(fig, d_image, axes[2], "difference in accuracy")
    tables.percent_colorbar(fig, image, list(axes[:2]) if have_m1 else axes[0],
                            "test accuracy")
    r = rows[0]
    fig.suptitle(f"CIFAR-10 (Table 3): ResNet, {r['epochs']} epochs, {r['per_class']} "
                 f"training images per class, mean over {r['draws']} draw(s); +1 = the larger "
                 f"class", fontsize=10)
    return g.save(fig, path)


def markdown(rows: list[dict], config: dict) -> str:
    acc = np.array([r["resnet_accuracy_mean"] for r in rows])
    lines = ["# Yu, Gao, Zhang, Miao 2024, Table 3: ResNet on CIFAR-10 class pairs", "",
             f"{len(rows)} pairs; {rows[0]['per_class']} training images per class (Table 2's "
             f"draws), {rows[0]['draws']} draw(s) per pair; network widths "
             f"{config['widths']}, blocks {config['blocks']} ({rows[0]['param_count']:,} "
             f"parameters); {config['epochs']} epochs, lr {config['lr']} ({config['schedule']}"
             f"), batch {config['batch_size']}, momentum {config['momentum']}, weight decay "
             f"{config['weight_decay']}, augmentation "
             f"{'random crop + flip' if config['augment'] else 'none'}. The paper states only "
             "ResNet-18, 20 epochs, lr 0.1, cross-entropy.", "",
             f"- Mean ResNet test accuracy over pairs: **{100 * acc.mean():.1f}%**; pairs above "
             f"70%: {int(np.sum(acc > 0.7))}/{len(rows)}; mean training accuracy "
             f"{100 * np.mean([r['resnet_train_accuracy_mean'] for r in rows]):.1f}%."]
    cd = [r for r in rows if (r["negative"], r["positive"]) == tables.CAT_DOG]
    if cd:
        lines.append(f"- Cat vs dog (3, 5): ResNet {100 * cd[0]['resnet_accuracy_mean']:.1f}%"
                     + (f", M1 {100 * cd[0]['m1_accuracy_mean']:.1f}% on the same draws"
                        if cd[0]["m1_draws"] else "") + ".")
    paired = [r for r in rows if r["m1_draws"]]
    if paired:
        diff = np.array([r["resnet_minus_m1_mean"] for r in paired])
        lines.append(f"- Against M1 on the same draws ({len(paired)} pairs with M1 records): "
                     f"the ResNet is better on **{int(np.sum(diff > 0))}/{len(paired)}** pairs, "
                     f"by {100 * diff.mean():+.1f} points on average (min {100 * diff.min():+.1f}"
                     f", max {100 * diff.max():+.1f}). Paper: \"significantly better\" than "
                     f"Table 2.")
    else:
        lines.append("- No M1 records for these draws in the store: run `jaxmem reproduce "
                     "yu2024_tables` at the same scale to compare.")
    lines += ["", "Mean ResNet test accuracy, %; row a, column b = pair (a, b):", ""]
    by = {(r["negative"], r["positive"]): r for r in rows}
    lines += markdown_table(
        ["a \\ b", *map(str, range(10))],
        ([a] + [("" if (min(a, b), max(a, b)) not in by else
                 f"{100 * by[(min(a, b), max(a, b))]['resnet_accuracy_mean']:.1f}")
                for b in range(10)] for a in range(10)),
        "r")
    return "\n".join(lines + [""])


def render_table(store, out_dir: str, run_id=None) -> list[str]:
    from jaxmem.experiments import _genzel2023 as g
    from jaxmem.store import StoreError
    try:
        run_row = store.run(sweep_name() if run_id is None else run_id)
    except StoreError:
        raise ValueError(f"no {NAME} records in the store {store.path}; nothing to render") \
            from None
    records = store.records(run_row["run_id"])
    if not records:
        raise ValueError(f"no {NAME} records in run {run_row['run_id']}; nothing to render")
    rows = pair_rows(records, m1_by_draw(store))
    path = lambda suffix: g.out_path(out_dir, f"{NAME}{suffix}")  # noqa: E731
    paths = [tables.write_rows_csv(rows, PAIR_COLUMNS, path(".csv")),
             tables.write_matrix_csv(tables.matrix(rows, "resnet_accuracy_mean"),
                                     path("_matrix.csv")),
             plot(rows, path(".png"))]
    config = {k: records[0][k] for k in ("widths", "blocks", *TRAINING)}
    with open(path(".md"), "w") as f:
        f.write(markdown(rows, config))
    return paths + [path(".md")]

register_experiment(__name__)
