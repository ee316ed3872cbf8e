"""The Table 1 report, from the stored studies alone: `python -m src.report [reproduce.key=value ...]`
(this module; src/report.py is its short name).

Reads every finished trial of reproduce.storage (src/trials/records.py) for reproduce.epochs /
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
Numbers: rows.py; figures: figures.py; the markdown and CSV: here.
"""
import os
from pathlib import Path

import hydra
import pandas as pd
from omegaconf import DictConfig

from hydra_plugins.optuna5_sweeper.storage import masked
from src.experiments.common.cells import DATASET_TITLES, NOT_RUN, cell, cells
from src.experiments.common.studies_copy import STUDIES_COPY, copy_studies, reported_studies
from src.experiments.table1 import paper
from src.experiments.table1.figures import Figures
from src.experiments.table1.rows import Rows, signed, unique_runs
from src.experiments.table1.studies import levers_of, settings
from src.runtime.errors import UserError, exit_with
from src.runtime.paths import CONF_DIR, ROOT
from src.trials.records import records_of

DISCUSSION = ROOT / "docs" / "results" / "discussion.md"


class Report:
    def __init__(self, r: DictConfig):
        self.r = r
        self.out = Path(r.out)
        self.storage, names = reported_studies(r, "reproduce")  # a journal file is read once, here
        runs = unique_runs(records_of(self.storage, names))
        self.runs = [x for x in runs if x["epochs"] == r.epochs and x.get("limit") == r.limit
                     and levers_of(x) in settings(r)]
        if not self.runs:
            found = sorted({(x["epochs"], x.get("limit"), levers_of(x)) for x in runs}, key=str)
            raise UserError(
                f"No finished run in {masked(r.storage)} has reproduce.epochs={r.epochs}, "
                f"reproduce.limit={r.limit} and a setting of reproduce.levers={settings(r)}; the report in "
                "reproduce.out is left as it is. Runs there have (epochs, limit, levers): "
                f"{', '.join(map(str, found)) or 'none'}.")

    # --- writing ---------------------------------------------------------------------------
    def write_csv(self, rows: pd.DataFrame) -> Path:
        path = self.out / "table1.csv"
        rows.drop(columns="flat seeds").to_csv(path, index=False, float_format="%.4f", na_rep=NOT_RUN,
                                               lineterminator="\r\n")
        return path

    def write(self) -> Path:
        self.out.mkdir(parents=True, exist_ok=True)
        table, plots = Rows(self.r, self.runs, self.storage), Figures(self.runs, self.out)
        rows, baselines, prov = table.table_rows(), table.baseline_rows(), table.provenance()
        figures = [plots.plot_acc_vs_s(rows, d) for d in paper.FLAT_BASELINE]
        figures += [plots.plot_conv_vs_flat(rows, d) for d in paper.FLAT_BASELINE]
        samples, diversity = plots.plot_samples()
        clusters, cluster_run = plots.plot_mnist_clusters()
        self.write_csv(rows)
        copy_studies(self.r, self.storage, {x["study"] for x in self.runs})
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
        levers = ", levers " + ", ".join(f"`{x}`" for x in settings(self.r)) if settings(self.r) != ["none"] else ""
        rebuild_levers = "" if settings(self.r) == ["none"] else f" \"reproduce.levers=[{','.join(settings(self.r))}]\""
        return [
            "# Table 1, reproduced",
            "",
            f"Written by `python -m src.report` from {prov['runs']} finished runs in `{masked(str(self.r.storage))}` "
            f"({self.r.epochs} epochs{limit}{levers}). Every number traces to its trials (`study#trial`, "
            f"in table1.csv), kept beside this file in [{STUDIES_COPY}]({STUDIES_COPY}), a copy of those "
            f"studies: `python -m src.report reproduce.storage={self.out / STUDIES_COPY} "
            f"reproduce.out={self.out}{rebuild_levers}` rebuilds the report from it (the two pictures drawn from "
            "checkpoints only where the run directories are). Rows without runs say \"not run\". "
            "Each row of the paper appears once per setting of the clustering VAE's levers "
            "(conf/levers/; `none`: the paper as described, the reading of ../shared/SPEC.md). "
            "The label-free pick is the seed whose run ended with the lowest training loss in the "
            "paper's form: a restart chosen without any label. "
            "Accuracy in %; mean ± std over "
            "seeds; the paper's column is compared with majority-vote accuracy (seed 001's "
            "metric; the paper does not name its own). The model and loss are the reading of "
            f"../shared/SPEC.md section 1 described in [discussion.md]({self.relative(DISCUSSION)}).",
            "",
        ]

    def conv_table(self, rows: pd.DataFrame) -> list[str]:
        shown = pd.DataFrame({
            "data set": rows["dataset"].map(DATASET_TITLES), "s": rows["s"].astype(str), "levers": rows["levers"],
            "paper n, m": [f"{n}, {m}" for n, m in zip(rows["paper n"], rows["paper m"])],
            "our n, m": [f"{n}, {m}" if seeds else NOT_RUN for n, m, seeds in zip(rows["n"], rows["m"], rows["seeds"])],
            "(n, m) tried": rows["(n, m) tried"].astype(str), "seeds": rows["seeds"].astype(str),
            "loss train": cells(rows, "loss train"),
            "loss test": cells(rows, "loss test"),
            "paper loss train / test": [f"{a} / {b}" for a, b in zip(rows["paper loss train"], rows["paper loss test"])],
            "acc train (maj.)": cells(rows, "acc train (majority)"),
            "acc test (maj.)": cells(rows, "acc test (majority)"),
            "paper acc test": rows["paper acc test"].astype(str),
            "diff": rows["diff acc test"].map(signed),
            "acc test (Hungarian)": cells(rows, "acc test (Hungarian)"),
            "NMI test": cells(rows, "NMI test", digits=3),
            "label-free pick: seed, acc test (maj.)": [
                NOT_RUN if not r["seeds"] else f"{r['pick seed']}, {r['pick acc test (majority)']:.2f}"
                for _, r in rows.iterrows()]})
        return ["## Conv-optimized VAE: best (n, m) per s", "", markdown(shown), ""]

    def baseline_table(self, baselines: pd.DataFrame) -> list[str]:
        shown = pd.DataFrame({
            "data set": baselines["dataset"].map(DATASET_TITLES), "s": baselines["s"].astype(str),
            "levers": baselines["levers"], "m": baselines["m"].astype(str), "seeds": baselines["seeds"].astype(str),
            "acc test (maj.)": cells(baselines, "acc test (majority)"),
            "paper": baselines["paper"].astype(str), "diff": baselines["diff"].map(signed),
            "acc test (Hungarian)": cells(baselines, "acc test (Hungarian)")})
        return ["## Flat-VAE baseline at the paper's peak", "", markdown(shown), "",
                "Reference lines (not run here): "
                + "; ".join(f"{DATASET_TITLES[d]}: {name} {acc}%" for d, refs in paper.REFERENCES.items()
                            for name, acc in refs) + ".", ""]

    def gain_table(self, rows: pd.DataFrame) -> list[str]:
        ran = rows[(rows["seeds"] > 0) | (rows["flat seeds"] > 0)]
        shown = pd.DataFrame({
            "data set": ran["dataset"].map(DATASET_TITLES), "s": ran["s"].astype(str), "levers": ran["levers"],
            "conv": cells(ran, "acc test (majority)"),
            "flat (m)": [f"{cell(r, 'flat acc test (majority)', prefix='flat ')} ({r['flat m']})"
                         if r["flat seeds"] else NOT_RUN for _, r in ran.iterrows()],
            "conv - flat": ran["conv - flat"].map(signed)})
        if shown.empty:
            shown.loc[0] = ["all", "-", "-", NOT_RUN, NOT_RUN, NOT_RUN]
        return [f"## Conv minus flat (the paper claims about {paper.CLAIMED_GAIN:.0f} points)", "",
                "Same data set, s and levers; each model at its best m (and n), test accuracy, majority vote.", "",
                markdown(shown), ""]

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
                      f"n={cluster_run['layers']}, m={cluster_run['hidden']}, levers {levers_of(cluster_run)}, "
                      f"{cluster_run['study']}#{cluster_run['trial']}): real test images per cluster "
                      "(left) and samples generated from it (right).", "", f"![mnist clusters]({clusters.name})", ""]
        return lines

    def verdicts(self, rows: pd.DataFrame, baselines: pd.DataFrame) -> list[str]:
        """Which rows reproduce: our mean within 2 points of the paper's value, or above it."""
        lines = ["## Which rows reproduce", "",
                 "A row reproduces when our mean test accuracy (majority vote) is at most 2 points "
                 "below the paper's, or above it.", ""]
        for _, r in rows[rows["seeds"] > 0].iterrows():
            verdict = "reproduces" if r["diff acc test"] >= -2 else "does not reproduce"
            lines.append(f"- {DATASET_TITLES[r['dataset']]} s={r['s']}, levers {r['levers']}: {cell(r, 'acc test (majority)')} "
                         f"against {r['paper acc test']} ({r['diff acc test']:+.2f}): {verdict}.")
        for _, b in baselines[baselines["seeds"] > 0].iterrows():
            verdict = "reproduces" if b["diff"] >= -2 else "does not reproduce"
            lines.append(f"- flat baseline {DATASET_TITLES[b['dataset']]} s={b['s']} m={b['m']}, levers {b['levers']}: "
                         f"{cell(b, 'acc test (majority)')} against {b['paper']} ({b['diff']:+.2f}): {verdict}.")
        missing = [f"{DATASET_TITLES[d]} s={s} ({levers})"
                   for d, s, levers in rows.loc[rows["seeds"] == 0, ["dataset", "s", "levers"]].values]
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


def markdown(shown: pd.DataFrame) -> str:
    """A table of formatted cells (strings), as they are."""
    return shown.to_markdown(index=False, disable_numparse=True)


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
