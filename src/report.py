"""The Table 1 report, from the stored studies alone: `python -m src.report [reproduce.key=value ...]`.

Reads every finished trial of reproduce.storage (src/studies.py) for reproduce.epochs /
reproduce.limit and writes into reproduce.out (docs/results/):
  table1.md, table1.csv   our best (n, m) per s of the paper, mean +- std over seeds, the
                          paper's row and the difference; flat baselines; conv - flat gain;
                          where every number comes from (study and trial numbers), the
                          hardware, commits, commands and wall time; rows not run say so
  acc_vs_s_<data>.png     test accuracy against s, ours and the paper's
  conv_vs_flat_<data>.png the best conv and flat runs per s
  samples_fashion_mnist.png  the paper's Figs. 2-4: samples generated from the clusters of
                          Bag, T-shirt/top and Ankle boot (s=60, n=5), flat left, conv right
  mnist_clusters.png      seed 001's pictures: real members and generated samples per cluster
  studies.log             a copy of the studies read, as a journal file: with
                          reproduce.storage=<out>/studies.log the report rebuilds from it alone
No model is trained; the sample figures load the runs' final checkpoints, and say "not drawn"
where those are not on this machine (a study shared through PostgreSQL, a copied journal).
"""
import csv
import os
import statistics
from pathlib import Path

import hydra
import matplotlib
import optuna

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from hydra.utils import instantiate  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402
from scipy.optimize import linear_sum_assignment  # noqa: E402

from hydra_plugins.optuna5_sweeper._runner import is_journal_file, masked, open_storage  # noqa: E402
from src import paper  # noqa: E402
from src.errors import UserError, exit_with  # noqa: E402
from src.metrics import contingency  # noqa: E402
from src.pictures import save_cluster_grid, tile  # noqa: E402
from src.studies import best_point, best_run, open_studies, records_of, select  # noqa: E402

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
DISCUSSION = Path(__file__).resolve().parents[1] / "docs" / "results" / "discussion.md"
NOT_RUN = "not run"
STUDIES_COPY = "studies.log"
DATASET_TITLES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
# (column, record key, scale): scores are fractions in the records, percent in the report
SCORES = [("loss train", "train_loss", 1), ("loss test", "test_loss", 1),
          ("acc train (majority)", "train_acc_majority", 100), ("acc test (majority)", "test_acc_majority", 100),
          ("acc train (Hungarian)", "train_acc", 100), ("acc test (Hungarian)", "test_acc", 100)]
POINT = ("model", "dataset", "latent", "layers", "hidden", "seed", "epochs", "limit")


def unique_runs(records: list[dict]) -> list[dict]:
    """One record per (model, data set, s, n, m, seed, length): a point run in two studies
    (the paper's point inside the full grid) counts once, from the earlier study."""
    seen, runs = set(), []
    for r in sorted(records, key=lambda r: (r["study"], r["trial"])):
        key = tuple(r.get(k) for k in POINT)
        if key not in seen:
            seen.add(key)
            runs.append(r)
    return runs


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def fmt(values: list[float] | None) -> str:
    if not values:
        return NOT_RUN
    mean, std = mean_std(values)
    return f"{mean:.2f}" if len(values) == 1 else f"{mean:.2f} ± {std:.2f}"


def mosaic(images: np.ndarray, cols: int, pad: int = 2) -> np.ndarray:
    """(n, H, W) -> rows of `cols` images, white gaps between them."""
    rows = [tile(images[i:i + cols], cols, pad) for i in range(0, len(images), cols)]
    gap = np.ones((pad, rows[0].shape[1]), dtype=np.float32)
    return np.vstack([part for row in rows for part in (row, gap)][:-1])


def trace(runs: list[dict]) -> str:
    return ", ".join(f"{r['study']}#{r['trial']}" for r in runs)


def copy_is_the_storage(r: DictConfig) -> bool:
    return is_journal_file(r.storage) and Path(r.storage).resolve() == (Path(r.out) / STUDIES_COPY).resolve()


def keep_the_copy(r: DictConfig, names: list[str]) -> None:
    """Refuse to write over a copy of studies (an earlier report's) that the storage lacks:
    checked before anything is written, and by src.reproduce before anything runs."""
    path = Path(r.out) / STUDIES_COPY
    if not path.is_file() or copy_is_the_storage(r):
        return
    lacking = sorted(set(open_studies(str(path))[1]) - set(names))
    if lacking:
        raise UserError(
            f"{path} holds {len(lacking)} studies that reproduce.storage ({masked(str(r.storage))}) lacks "
            f"({', '.join(lacking[:3])}{', ...' if len(lacking) > 3 else ''}), and writing the report "
            "there would replace them; nothing was written. To add runs to that report, run and report "
            f"with reproduce.storage={path}; to write this one apart, set reproduce.out to another folder.")


class Report:
    def __init__(self, r: DictConfig):
        self.r = r
        self.out = Path(r.out)
        self.storage, names = open_studies(r.storage)  # a journal file is read once, here
        if self.storage is None:
            raise UserError(f"Config key 'reproduce.storage': {r.storage} does not exist, so there is "
                            "nothing to report (and the report in reproduce.out is left as it is). "
                            "Run python -m src.reproduce first, or point reproduce.storage at its studies.")
        keep_the_copy(r, names)
        runs = unique_runs(records_of(self.storage, names))
        self.runs = [x for x in runs if x["epochs"] == r.epochs and x.get("limit") == r.limit]
        if not self.runs:
            found = sorted({(x["epochs"], x.get("limit")) for x in runs}, key=str)
            raise UserError(
                f"No finished run in {masked(r.storage)} has reproduce.epochs={r.epochs} and "
                f"reproduce.limit={r.limit}; the report in reproduce.out is left as it is. Runs there "
                f"have (epochs, limit): {', '.join(map(str, found)) or 'none'}.")

    # --- rows ------------------------------------------------------------------------------
    def best_runs(self, model: str, dataset: str, latent: int) -> tuple[dict | None, list[dict]]:
        """The best (n, m) at this s (seed 0's val accuracy) and its runs over every seed."""
        point = best_point(self.runs, model, dataset, latent, self.r.epochs, self.r.limit)
        if point is None:
            return None, []
        match = {"hidden": point["hidden"]}
        if model == "conv_vae":
            match["layers"] = point["layers"]
        runs = select(self.runs, model=model, dataset=dataset, latent=latent, **match)
        return point, sorted(runs, key=lambda x: x["seed"])

    def grid_size(self, model: str, dataset: str, latent: int) -> int:
        return len({(x["layers"], x["hidden"]) for x in
                    select(self.runs, model=model, dataset=dataset, latent=latent, seed=0)})

    def table_rows(self) -> list[dict]:
        rows = []
        for row in paper.TABLE1:
            point, runs = self.best_runs("conv_vae", row.dataset, row.latent)
            flat_point, flat_runs = self.best_runs("flat_vae", row.dataset, row.latent)
            out = {"dataset": row.dataset, "s": row.latent, "paper n": row.layers, "paper m": row.hidden,
                   "n": point["layers"] if point else NOT_RUN, "m": point["hidden"] if point else NOT_RUN,
                   "(n, m) tried": self.grid_size("conv_vae", row.dataset, row.latent),
                   "seeds": len(runs)}
            for column, key, scale in SCORES:
                out[column] = [x[key] * scale for x in runs]
            out["paper loss train"], out["paper loss test"] = row.loss_train, row.loss_test
            out["paper acc train"], out["paper acc test"] = row.acc_train, row.acc_test
            ours = out["acc test (majority)"]
            out["diff acc test"] = mean_std(ours)[0] - row.acc_test if ours else None
            flat = [x["test_acc_majority"] * 100 for x in flat_runs]
            out["flat m"] = flat_point["hidden"] if flat_point else NOT_RUN
            out["flat acc test (majority)"] = flat
            out["conv - flat"] = mean_std(ours)[0] - mean_std(flat)[0] if ours and flat else None
            out["trials"] = trace(runs)
            out["flat trials"] = trace(flat_runs)
            rows.append(out)
        return rows

    def baseline_rows(self) -> list[dict]:
        rows = []
        for dataset, base in paper.FLAT_BASELINE.items():
            runs = select(self.runs, model="flat_vae", dataset=dataset, latent=base.latent, hidden=base.hidden)
            acc = [x["test_acc_majority"] * 100 for x in runs]
            rows.append({"dataset": dataset, "s": base.latent, "m": base.hidden, "seeds": len(runs),
                         "acc test (majority)": acc,
                         "acc test (Hungarian)": [x["test_acc"] * 100 for x in runs],
                         "paper": base.acc, "diff": mean_std(acc)[0] - base.acc if acc else None,
                         "trials": trace(runs)})
        return rows

    # --- provenance ------------------------------------------------------------------------
    def provenance(self) -> dict:
        studies = sorted({x["study"] for x in self.runs})
        commands, hardware, sweep_seconds = [], set(), 0.0
        for name in studies:
            for run in optuna.load_study(study_name=name, storage=self.storage).user_attrs.get("runs", []):
                commands.append(f"python -m src.reproduce {run['reproduce']}".strip())
                sweep_seconds += run["wall_seconds"]
                gpus = f", {run['gpus']} GPU(s)" if run.get("gpus") else ""
                hardware.add(f"{run['device']} ({run['cpus']} CPU threads{gpus})")
        return {
            "studies": studies,
            "commands": sorted(set(commands)),
            "commits": sorted({str(x.get("commit")) for x in self.runs}),
            "devices": sorted({str(x.get("device")) for x in self.runs}),
            "hardware": sorted(hardware),
            "runs": len(self.runs),
            "train_seconds": sum(x["wall_seconds"] for x in self.runs),
            "sweep_seconds": sweep_seconds,
        }

    # --- figures ---------------------------------------------------------------------------
    def plot_acc_vs_s(self, rows: list[dict], dataset: str) -> Path:
        mine = [r for r in rows if r["dataset"] == dataset]
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot([r["s"] for r in mine], [r["paper acc test"] for r in mine], "o--", color="gray",
                label="paper (Table 1)")
        for column, marker, label in (("acc test (majority)", "s", "ours, majority vote"),
                                      ("acc test (Hungarian)", "^", "ours, Hungarian")):
            ran = [r for r in mine if r[column]]
            ax.errorbar([r["s"] for r in ran], [mean_std(r[column])[0] for r in ran],
                        yerr=[mean_std(r[column])[1] for r in ran], fmt=marker, capsize=3, label=label)
        not_run = [str(r["s"]) for r in mine if not r["acc test (majority)"]]
        title = f"{DATASET_TITLES[dataset]}: test accuracy, conv-optimized VAE"
        if not_run:
            title += f"\nnot run: s = {', '.join(not_run)}"
        ax.set(xlabel="latent size s", ylabel="test accuracy (%)", title=title, ylim=(0, 100))
        ax.legend(loc="lower right", fontsize=8)
        return self.save(fig, f"acc_vs_s_{dataset}.png")

    def plot_conv_vs_flat(self, rows: list[dict], dataset: str) -> Path:
        ran = [r for r in rows if r["dataset"] == dataset and (r["acc test (majority)"] or r["flat acc test (majority)"])]
        fig, ax = plt.subplots(figsize=(6, 4))
        x = np.arange(len(ran))
        for offset, column, label in ((-0.2, "flat acc test (majority)", "flat VAE (best m)"),
                                      (0.2, "acc test (majority)", "conv-optimized VAE (best n, m)")):
            heights = [mean_std(r[column])[0] if r[column] else 0 for r in ran]
            errors = [mean_std(r[column])[1] if r[column] else 0 for r in ran]
            ax.bar(x + offset, heights, 0.4, yerr=errors, capsize=3, label=label)
        base = paper.FLAT_BASELINE[dataset]
        ax.axhline(base.acc, color="gray", ls=":", label=f"paper's flat peak ({base.acc:.0f}%, s={base.latent})")
        ax.set_xticks(x, [f"s={r['s']}" for r in ran])
        ax.set(ylabel="test accuracy, majority vote (%)", ylim=(0, 100),
               title=f"{DATASET_TITLES[dataset]}: conv vs flat" + ("" if ran else f" ({NOT_RUN})"))
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
        which = ", ".join(f"{trace([r])} ({r['run_dir']})" for r in gone)
        return f"not drawn: the checkpoint{'s' if len(gone) > 1 else ''} of {which} " \
               f"{'are' if len(gone) > 1 else 'is'} not on this machine"

    def load(self, run: dict):
        """The trained model and its test split, from the run's directory."""
        run_dir = Path(run["run_dir"])
        cfg = OmegaConf.load(run_dir / "config.yaml")
        datamodule = instantiate(cfg.dataset)
        datamodule.setup(device=torch.device("cpu"))
        model = instantiate(cfg.model, num_classes=datamodule.num_classes)
        state = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
        model.load_state_dict(state["state_dict"])
        return model.eval(), datamodule

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
            generated = net.generate(per_class, generator=torch.Generator().manual_seed(0))
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

    def copy_studies(self) -> Path:
        """Every study the report read, copied whole into a journal file beside it, so that the
        numbers can be checked and rebuilt from the report's folder alone, after the storage
        and the machine that ran the trials are gone."""
        path = self.out / STUDIES_COPY
        if copy_is_the_storage(self.r):
            return path  # rebuilding from the copy itself
        partial = path.with_name(path.name + ".partial")
        partial.unlink(missing_ok=True)
        copy, verbosity = open_storage(str(partial)), optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # not a line per copied study
        try:
            for name in sorted({x["study"] for x in self.runs}):
                optuna.copy_study(from_study_name=name, from_storage=self.storage, to_storage=copy)
        finally:
            optuna.logging.set_verbosity(verbosity)
        os.replace(partial, path)
        return path

    def save(self, fig, name: str) -> Path:
        path = self.out / name
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        plt.close(fig)
        return path

    # --- writing ---------------------------------------------------------------------------
    def write_csv(self, rows: list[dict]) -> Path:
        path = self.out / "table1.csv"
        flat = []
        for row in rows:
            line = {}
            for key, value in row.items():
                if isinstance(value, list):
                    line[f"{key} mean"] = f"{mean_std(value)[0]:.4f}" if value else NOT_RUN
                    line[f"{key} std"] = f"{mean_std(value)[1]:.4f}" if value else NOT_RUN
                elif value is None:
                    line[key] = NOT_RUN
                else:
                    line[key] = f"{value:.4f}" if isinstance(value, float) else value
            flat.append(line)
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(flat[0]))
            writer.writeheader()
            writer.writerows(flat)
        return path

    def write(self) -> Path:
        self.out.mkdir(parents=True, exist_ok=True)
        rows, baselines, prov = self.table_rows(), self.baseline_rows(), self.provenance()
        figures = [self.plot_acc_vs_s(rows, d) for d in paper.FLAT_BASELINE]
        figures += [self.plot_conv_vs_flat(rows, d) for d in paper.FLAT_BASELINE]
        samples, diversity = self.plot_samples()
        clusters, cluster_run = self.plot_mnist_clusters()
        self.write_csv(rows)
        self.copy_studies()
        lines = self.header(prov)
        lines += self.conv_table(rows) + self.baseline_table(baselines) + self.gain_table(rows)
        lines += self.figure_section(figures, samples, diversity, clusters, cluster_run)
        lines += self.verdicts(rows, baselines)
        lines += self.provenance_section(prov)
        path = self.out / "table1.md"
        path.write_text("\n".join(lines) + "\n")
        return path

    def relative(self, path: Path) -> str:
        """A link from the report's folder (docs/results, or another reproduce.out) to `path`."""
        return Path(os.path.relpath(path, self.out.resolve())).as_posix()

    def header(self, prov: dict) -> list[str]:
        limit = f", first {self.r.limit} images of each split" if self.r.limit else ""
        return [
            "# Table 1, reproduced",
            "",
            f"Written by `python -m src.report` from {prov['runs']} finished runs in `{masked(str(self.r.storage))}` "
            f"({self.r.epochs} epochs{limit}). Every number traces to its trials (`study#trial`, "
            f"in table1.csv), kept beside this file in [{STUDIES_COPY}]({STUDIES_COPY}), a copy of those "
            f"studies: `python -m src.report reproduce.storage={self.out / STUDIES_COPY} "
            f"reproduce.out={self.out}` rebuilds the report from it (the two pictures drawn from "
            "checkpoints only where the run directories are). Rows without runs say \"not run\". "
            "Accuracy in %; mean ± std over "
            "seeds; the paper's column is compared with majority-vote accuracy (seed 001's "
            "metric; the paper does not name its own). The model and loss are the reading of "
            f"../shared/SPEC.md section 1 described in [discussion.md]({self.relative(DISCUSSION)}).",
            "",
        ]

    def conv_table(self, rows: list[dict]) -> list[str]:
        lines = ["## Conv-optimized VAE: best (n, m) per s", "",
                 "| data set | s | paper n, m | our n, m | (n, m) tried | seeds | loss train | loss test "
                 "| paper loss train / test | acc train (maj.) | acc test (maj.) | paper acc test | diff "
                 "| acc test (Hungarian) |",
                 "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            ran = bool(r["seeds"])
            lines.append(
                f"| {DATASET_TITLES[r['dataset']]} | {r['s']} | {r['paper n']}, {r['paper m']} | "
                + (f"{r['n']}, {r['m']} | {r['(n, m) tried']} | {r['seeds']} | " if ran else f"{NOT_RUN} | 0 | 0 | ")
                + f"{fmt(r['loss train'])} | {fmt(r['loss test'])} | {r['paper loss train']} / {r['paper loss test']} | "
                f"{fmt(r['acc train (majority)'])} | {fmt(r['acc test (majority)'])} | {r['paper acc test']} | "
                + (f"{r['diff acc test']:+.2f}" if ran else NOT_RUN)
                + f" | {fmt(r['acc test (Hungarian)'])} |")
        return lines + [""]

    def baseline_table(self, baselines: list[dict]) -> list[str]:
        lines = ["## Flat-VAE baseline at the paper's peak", "",
                 "| data set | s | m | seeds | acc test (maj.) | paper | diff | acc test (Hungarian) |",
                 "|---|---|---|---|---|---|---|---|"]
        for b in baselines:
            diff = f"{b['diff']:+.2f}" if b["diff"] is not None else NOT_RUN
            lines.append(f"| {DATASET_TITLES[b['dataset']]} | {b['s']} | {b['m']} | {b['seeds']} | "
                         f"{fmt(b['acc test (majority)'])} | {b['paper']} | {diff} | {fmt(b['acc test (Hungarian)'])} |")
        lines += ["", "Reference lines (not run here): "
                  + "; ".join(f"{DATASET_TITLES[d]}: {name} {acc}%" for d, refs in paper.REFERENCES.items()
                              for name, acc in refs) + ".", ""]
        return lines

    def gain_table(self, rows: list[dict]) -> list[str]:
        lines = [f"## Conv minus flat (the paper claims about {paper.CLAIMED_GAIN:.0f} points)", "",
                 "Same data set and s; each model at its best m (and n), test accuracy, majority vote.", "",
                 "| data set | s | conv | flat (m) | conv - flat |", "|---|---|---|---|---|"]
        for r in rows:
            if r["acc test (majority)"] or r["flat acc test (majority)"]:
                gain = f"{r['conv - flat']:+.2f}" if r["conv - flat"] is not None else NOT_RUN
                lines.append(f"| {DATASET_TITLES[r['dataset']]} | {r['s']} | {fmt(r['acc test (majority)'])} | "
                             f"{fmt(r['flat acc test (majority)'])} ({r['flat m']}) | {gain} |")
        if len(lines) == 6:
            lines.append(f"| all | - | {NOT_RUN} | {NOT_RUN} | {NOT_RUN} |")
        return lines + [""]

    def figure_section(self, figures, samples, diversity, clusters, cluster_run) -> list[str]:
        lines = ["## Figures", ""] + [f"![{p.stem}]({p.name})" for p in figures] + [""]
        if isinstance(samples, str):
            lines += [f"Generated samples per class (Fashion-MNIST, s=60, n=5, flat and conv): {samples}.", ""]
        else:
            lines += [f"![samples]({samples.name})", "",
                      "Diversity: mean pairwise Euclidean distance between the generated samples "
                      "(784 pixels in [0, 1]) of the cluster matched to the class; higher is more diverse.", "",
                      "| class | flat | conv | trials (flat, conv) |", "|---|---|---|---|"]
            by = {(d["class"], d["model"]): d for d in diversity}
            for name in paper.FIGURE_CLASSES:
                f, c = by[(name, "flat_vae")], by[(name, "conv_vae")]
                lines.append(f"| {name} | {f['diversity']:.2f} | {c['diversity']:.2f} | {f['trial']}, {c['trial']} |")
            lines.append("")
        if isinstance(clusters, str):
            lines += [f"MNIST clusters (real members, generated samples): {clusters}.", ""]
        else:
            lines += [f"MNIST, best conv run by validation accuracy (s={cluster_run['latent']}, "
                      f"n={cluster_run['layers']}, m={cluster_run['hidden']}, "
                      f"{cluster_run['study']}#{cluster_run['trial']}): real test images per cluster "
                      "(left) and samples generated from it (right).", "", f"![mnist clusters]({clusters.name})", ""]
        return lines

    def verdicts(self, rows: list[dict], baselines: list[dict]) -> list[str]:
        """Which rows reproduce: our mean within 2 points of the paper's value, or above it."""
        lines = ["## Which rows reproduce", "",
                 "A row reproduces when our mean test accuracy (majority vote) is at most 2 points "
                 "below the paper's, or above it.", ""]
        for r in rows:
            if not r["seeds"]:
                continue
            verdict = "reproduces" if r["diff acc test"] >= -2 else "does not reproduce"
            lines.append(f"- {DATASET_TITLES[r['dataset']]} s={r['s']}: {fmt(r['acc test (majority)'])} "
                         f"against {r['paper acc test']} ({r['diff acc test']:+.2f}): {verdict}.")
        for b in baselines:
            if b["seeds"]:
                verdict = "reproduces" if b["diff"] >= -2 else "does not reproduce"
                lines.append(f"- flat baseline {DATASET_TITLES[b['dataset']]} s={b['s']} m={b['m']}: "
                             f"{fmt(b['acc test (majority)'])} against {b['paper']} ({b['diff']:+.2f}): {verdict}.")
        missing = [f"{DATASET_TITLES[r['dataset']]} s={r['s']}" for r in rows if not r["seeds"]]
        if missing:
            lines.append(f"- not run: {', '.join(missing)}.")
        return lines + [""]

    def provenance_section(self, prov: dict) -> list[str]:
        return ["## Runs behind this report", "",
                f"- hardware: {'; '.join(prov['hardware']) or NOT_RUN} (trials ran on: "
                f"{', '.join(prov['devices']) or NOT_RUN})",
                f"- commits: {', '.join(prov['commits']) or NOT_RUN}",
                f"- {prov['runs']} runs; training wall time {prov['train_seconds'] / 60:.1f} min in all, "
                f"sweeps (start-up included) {prov['sweep_seconds'] / 60:.1f} min",
                "- commands:", *[f"  - `{c}`" for c in prov["commands"]],
                f"- studies: {', '.join(f'`{s}`' for s in prov['studies'])}", ""]


def build_report(r: DictConfig) -> Path:
    return Report(r).write()


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="reproduce")
def main(cfg: DictConfig) -> None:
    try:
        print(build_report(cfg.reproduce))
    except UserError as exc:
        exit_with(exc)


if __name__ == "__main__":
    main()
