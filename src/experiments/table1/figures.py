"""Table 1's figures: accuracy against s, conv against flat, and the two drawn from the
runs' checkpoints (samples per class as in the paper's Figs. 2-4, MNIST clusters)."""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from scipy.optimize import linear_sum_assignment  # noqa: E402

from src.experiments.common.cells import DATASET_TITLES, NOT_RUN  # noqa: E402
from src.experiments.table1 import paper  # noqa: E402
from src.runs import load_run  # noqa: E402
from src.tasks.pictures import save_cluster_grid, tile  # noqa: E402
from src.tasks.scores import contingency  # noqa: E402
from src.trials.records import best_run, select  # noqa: E402


def mosaic(images: np.ndarray, cols: int, pad: int = 2) -> np.ndarray:
    """(n, H, W) -> rows of `cols` images, white gaps between them."""
    rows = [tile(images[i:i + cols], cols, pad) for i in range(0, len(images), cols)]
    gap = np.ones((pad, rows[0].shape[1]), dtype=np.float32)
    return np.vstack([part for row in rows for part in (row, gap)][:-1])


class Figures:
    def __init__(self, runs: list[dict], out: Path):
        self.runs, self.out = runs, out

    def plot_acc_vs_s(self, rows: pd.DataFrame, dataset: str) -> Path:
        """Test accuracy (majority vote) against s, one series per setting of the levers."""
        mine = rows[rows["dataset"] == dataset]
        paper_rows = mine.drop_duplicates("s")
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(paper_rows["s"], paper_rows["paper acc test"], "o--", color="gray", label="paper (Table 1)")
        for (levers, ran), marker in zip(mine[mine["seeds"] > 0].groupby("levers", sort=False), "s^vD<>"):
            ax.errorbar(ran["s"], ran["acc test (majority) mean"], yerr=ran["acc test (majority) std"],
                        fmt=marker, capsize=3, label=f"ours, levers {levers}")
        title = f"{DATASET_TITLES[dataset]}: test accuracy (majority vote), conv-optimized VAE"
        for levers, missing in mine[mine["seeds"] == 0].groupby("levers", sort=False)["s"]:
            title += f"\nnot run with {levers}: s = {', '.join(map(str, missing))}"
        ax.set(xlabel="latent size s", ylabel="test accuracy (%)", ylim=(0, 100))
        ax.set_title(title, fontsize=8)
        ax.legend(loc="lower right", fontsize=8)
        return self.save(fig, f"acc_vs_s_{dataset}.png")

    def plot_conv_vs_flat(self, rows: pd.DataFrame, dataset: str) -> Path:
        """Conv and flat bars per s, a pair per setting of the levers."""
        ran = rows[(rows["dataset"] == dataset) & ((rows["seeds"] > 0) | (rows["flat seeds"] > 0))]
        fig, ax = plt.subplots(figsize=(6, 4))
        x = np.arange(len(ran))
        for offset, column, label in ((-0.2, "flat acc test (majority)", "flat VAE (best m)"),
                                      (0.2, "acc test (majority)", "conv-optimized VAE (best n, m)")):
            ax.bar(x + offset, ran[f"{column} mean"].fillna(0), 0.4, yerr=ran[f"{column} std"].fillna(0),
                   capsize=3, label=label)
        base = paper.FLAT_BASELINE[dataset]
        ax.axhline(base.acc, color="gray", ls=":", label=f"paper's flat peak ({base.acc:.0f}%, s={base.latent})")
        ax.set_xticks(x, [f"s={s}\n{levers}" for s, levers in zip(ran["s"], ran["levers"])], fontsize=7)
        ax.set(ylabel="test accuracy, majority vote (%)", ylim=(0, 100),
               title=f"{DATASET_TITLES[dataset]}: conv vs flat" + ("" if len(ran) else f" ({NOT_RUN})"))
        ax.legend(loc="lower right", fontsize=8)
        return self.save(fig, f"conv_vs_flat_{dataset}.png")

    @staticmethod
    def not_here(runs: list[dict]) -> str | None:
        """Why figures from these runs' checkpoints cannot be drawn on this machine, or None.
        A study on a shared PostgreSQL server, or a journal file copied from elsewhere, lists
        run directories of other machines; their numbers still report, their pictures not."""
        gone = [r for r in runs if not (Path(r["run_dir"]) / "checkpoints" / "last.ckpt").is_file()]
        if not gone:
            return None
        which = ", ".join(f"{r['study']}#{r['trial']} ({r['run_dir']})" for r in gone)
        return f"not drawn: the checkpoint{'s' if len(gone) > 1 else ''} of {which} " \
               f"{'are' if len(gone) > 1 else 'is'} not on this machine"

    @staticmethod
    def load(run: dict):
        """The trained model and its data, from the run's directory."""
        _, datamodule, model = load_run(Path(run["run_dir"]))
        return model, datamodule

    def class_clusters(self, model, datamodule) -> dict[int, int]:
        """Class -> the cluster matched to it one-to-one (Hungarian) on the test split."""
        images, labels = datamodule.splits["test"]
        with torch.no_grad():
            clusters = model.assign(images).numpy()
        counts = contingency(clusters, labels.numpy())
        rows, cols = linear_sum_assignment(counts, maximize=True)
        return {int(label): int(cluster) for cluster, label in zip(rows, cols)}

    def plot_samples(self, per_class: int = 36) -> tuple[Path | str, list[dict]]:
        """The figure, or why there is none; the samples' diversity per class and model."""
        spec = paper.FIGURE_ROW
        picked = {}
        for model in ("flat_vae", "conv_vae"):
            match = {"layers": spec["layers"]} if model == "conv_vae" else {}
            runs = select(self.runs, model=model, dataset=spec["dataset"], latent=spec["latent"], seed=0, **match)
            if runs:
                picked[model] = best_run(runs)
        if len(picked) < 2:
            return NOT_RUN, []
        if why := self.not_here(list(picked.values())):
            return why, []
        side = int(np.sqrt(per_class))
        fig, axes = plt.subplots(len(paper.FIGURE_CLASSES), 2, figsize=(7, 3.4 * len(paper.FIGURE_CLASSES)))
        diversity = []
        for col, model in enumerate(("flat_vae", "conv_vae")):
            net, datamodule = self.load(picked[model])
            to_cluster = self.class_clusters(net, datamodule)
            generated = net.sample(per_class, generator=torch.Generator().manual_seed(0))
            for row, name in enumerate(paper.FIGURE_CLASSES):
                label = datamodule.classes.index(name)
                samples = generated[to_cluster[label], :, 0].numpy()
                flat = samples.reshape(len(samples), -1)
                pairwise = np.sqrt(((flat[:, None] - flat[None]) ** 2).sum(-1))
                score = float(pairwise[np.triu_indices(len(flat), 1)].mean())
                diversity.append({"class": name, "model": model, "diversity": score,
                                  "trial": f"{picked[model]['study']}#{picked[model]['trial']}"})
                grid = mosaic(samples, side)
                ax = axes[row, col]
                ax.imshow(grid, cmap="gray", vmin=0, vmax=1)
                ax.set_xticks([]), ax.set_yticks([])
                ax.set_title(f"{name}, {'flat' if model == 'flat_vae' else 'conv'} "
                             f"(m={picked[model]['hidden']}): diversity {score:.2f}", fontsize=9)
        fig.suptitle(f"Fashion-MNIST, s={spec['latent']}: samples generated from the cluster matched "
                     f"to each class\nflat VAE (left), conv-optimized VAE n={spec['layers']} (right)")
        return self.save(fig, "samples_fashion_mnist.png"), diversity

    def plot_mnist_clusters(self) -> tuple[Path | str, dict | None]:
        """The figure (or why there is none) and the run it shows."""
        runs = select(self.runs, model="conv_vae", dataset="mnist", seed=0)
        if not runs:
            return NOT_RUN, None
        best = best_run(runs)
        if why := self.not_here([best]):
            return why, best
        net, datamodule = self.load(best)
        path = self.out / "mnist_clusters.png"
        with torch.no_grad():
            save_cluster_grid(net, *datamodule.splits["test"], datamodule.classes, path)
        return path, best

    def save(self, fig, name: str) -> Path:
        path = self.out / name
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        plt.close(fig)
        return path
