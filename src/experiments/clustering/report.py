"""The clustering table, from the stored studies alone: `python -m src.clustering clustering.run=false`.

One protocol for every method: trained on the 55,000 training images that the project's data
module keeps for training (5,000 held out for validation), scored on the 10,000 test images;
Hungarian and majority-vote accuracy, NMI and ARI, mean +- std over seeds. Rows: k-means on the
pixels and on seed 003's autoencoder's code, DEC and IDEC (this experiment's studies, in
clustering.storage), and the rows of other experiments read from their studies copies
(clustering.others). Writes into clustering.out (docs/results/clustering/):
  README.md    the table per data set, the published number of each method beside it
  trials.csv   one line per trial behind a cell: method, source, study, trial, scores
  figures/     accuracy per method with each seed's point, per data set
  studies.log  a copy of this experiment's studies: with clustering.storage=<out>/studies.log
               the table rebuilds from the repository alone
"""
import textwrap
from collections.abc import Mapping
from pathlib import Path

import optuna
import pandas as pd
from omegaconf import DictConfig

from hydra_plugins.optuna5_sweeper.storage import masked
from src.experiments.clustering.published import published
from src.experiments.common.cells import DATASET_TITLES, NOT_RUN, mean_std
from src.experiments.common.studies_copy import STUDIES_COPY, copy_studies, reported_studies
from src.runtime.errors import UserError
from src.trials.records import open_studies, records_of, select

DATASETS = ("mnist", "fashion_mnist")
SCORES = ("acc", "acc_majority", "nmi", "ari")


# The pretrainings DEC can start from (clustering.pretraining), each a sweeps/<name>_<dataset>.yaml:
# how its rows are named, what the table says of it, its published key (published.py).
PRETRAININGS = {
    "seed003": {"rows": "seed 003", "published": "seed003_ae",
                "recipe": "seed 003's autoencoder (784-500-500-2000-10, sweeps/seed003_<dataset>.yaml: batch norm, "
                          "Adam 1e-3, batch 256, BCE, trained as the bake-off trains)"},
    "dec_keras": {"rows": "DEC-keras pretraining", "published": "dec_keras_ae",
                  "recipe": "DEC's autoencoder as DEC-keras pretrains it (the same units, sweeps/dec_keras_<dataset>.yaml: "
                            "no batch norm, linear output, SGD lr 1, momentum 0.9, batch 256, squared error per pixel)"},
}


def study_name(r: DictConfig, dataset: str, pretraining: str, dec: bool = False) -> str:
    """The pretraining's study (named as its sweep file names it), or with `dec` DEC's and IDEC's
    on it (seed 003's keeps its first name, dec_<dataset>_e<dec epochs>_pre<epochs>)."""
    epochs = r.pretraining[pretraining]
    if not dec:
        name = f"{pretraining}_{dataset}_e{epochs}"
    elif pretraining == "seed003":
        name = f"dec_{dataset}_e{r.dec_epochs}_pre{epochs}"
    else:
        name = f"dec_{dataset}_e{r.dec_epochs}_{pretraining}{epochs}"
    return name + (f"_limit{r.limit}" if r.limit is not None else "")


def active(r: DictConfig) -> dict[str, int]:
    """The pretrainings this run uses (those with epochs), in the config's order."""
    return {name: epochs for name, epochs in r.pretraining.items() if epochs is not None}


def method_names(pretraining: str) -> tuple[str, str, str]:
    """Its rows: autoencoder + k-means, DEC, IDEC (seed 003's DEC and IDEC are plain DEC and IDEC)."""
    label = PRETRAININGS[pretraining]["rows"]
    if pretraining == "seed003":
        return f"autoencoder + k-means ({label})", "DEC", "IDEC"
    return f"autoencoder + k-means ({label})", f"DEC ({label})", f"IDEC ({label})"


def scored(records: list[dict], method: str, source: str, prefix: str = "", seeds: dict | None = None) -> list[dict]:
    """A row's trials in one shape: the test and validation scores under `prefix` (the task's
    name in the trial's attributes), the seed (`seeds`: DEC's, its pretrained run's)."""
    rows = []
    for x in records:
        if f"{prefix}test_acc" not in x:
            continue
        rows.append({"method": method, "dataset": x["dataset"], "source": source,
                     "study": x["study"], "trial": x["trial"],
                     "seed": seeds.get(x.get("pretrained"), x["seed"]) if seeds else x["seed"],
                     **{s: x[f"{prefix}test_{s}"] for s in SCORES}, "val_acc": x.get(f"{prefix}val_acc"),
                     "wall_seconds": x["wall_seconds"], "commit": x["commit"], "device": x["device"]})
    return rows


def own_trials(r: DictConfig, records: list[dict]) -> list[dict]:
    """Per pretraining: k-means on the code (and on the pixels, where its sweep scores them),
    DEC and IDEC."""
    rows = []
    for dataset in r.datasets:
        for pretraining in active(r):
            pre = [x for x in records if x["study"] == study_name(r, dataset, pretraining)]
            dec = [x for x in records if x["study"] == study_name(r, dataset, pretraining, dec=True)]
            seeds = {x["run_dir"]: x["seed"] for x in pre}
            ae, dec_name, idec_name = method_names(pretraining)
            rows += scored(pre, "k-means on pixels", "clustering", "kmeans_pixels_")
            rows += scored(pre, ae, "clustering", "kmeans_")
            rows += scored([x for x in dec if not x.get("reconstruction")], dec_name, "clustering", "", seeds)
            rows += scored([x for x in dec if x.get("reconstruction")], idec_name, "clustering", "", seeds)
    return rows


def other_trials(r: DictConfig) -> list[dict]:
    """The rows of other experiments, from their studies copies (a missing copy: not run);
    each copy is read once, however many rows and data sets it serves. `studies` is a list of
    names ({dataset} filled in) or, where the data sets' rows differ, a list per data set."""
    read: dict[Path, list[dict]] = {}
    rows = []
    for other in r.others:
        for dataset in r.datasets:
            path = Path(other.storage.format(dataset=dataset))
            if not path.is_file():
                continue
            if path not in read:
                read[path] = records_of(*open_studies(str(path)))
            names = other.studies.get(dataset, []) if isinstance(other.studies, Mapping) else other.studies
            wanted = {s.format(dataset=dataset) for s in names}
            found = select([x for x in read[path] if x["study"] in wanted], **other.match)
            rows += scored(found, other.method, str(path))
    return rows


def methods(r: DictConfig) -> list[tuple[str, str | None]]:
    """The table's rows and their published keys."""
    own = [("k-means on pixels", "kmeans_pixels")]
    for pretraining in active(r):
        ae, dec, idec = method_names(pretraining)
        own += [(ae, PRETRAININGS[pretraining]["published"]), (dec, "dec"), (idec, "idec")]
    return [*own, *((o.method, o.published) for o in r.others)]


def table(df: pd.DataFrame, r: DictConfig, dataset: str) -> pd.DataFrame:
    rows = []
    for method, key in methods(r):
        mine = df[(df["dataset"] == dataset) & (df["method"] == method)] if len(df) else df
        rows.append({"method": method, "seeds": len(mine) or NOT_RUN,
                     "ACC test (Hungarian, %)": mean_std(mine.get("acc", pd.Series()) * 100, 2),
                     "ACC test (majority, %)": mean_std(mine.get("acc_majority", pd.Series()) * 100, 2),
                     "NMI test": mean_std(mine.get("nmi", pd.Series()), 3),
                     "ARI test": mean_std(mine.get("ari", pd.Series()), 3),
                     "ACC val (Hungarian, %)": mean_std(mine.get("val_acc", pd.Series(dtype=float)) * 100, 2),
                     "minutes per run": mean_std(mine.get("wall_seconds", pd.Series()) / 60, 1),
                     "published (its protocol)": published(key, dataset)})
    return pd.DataFrame(rows)


def figure(df: pd.DataFrame, r: DictConfig, dataset: str, out: Path) -> str | None:
    """Hungarian test accuracy per method: each seed a point, the mean a bar, per data set."""
    import matplotlib.pyplot as plt

    import src.tasks.pictures  # noqa: F401  (matplotlib's Agg backend)

    runs = df[df["dataset"] == dataset] if len(df) else df
    shown = [m for m, _ in methods(r) if len(runs) and (runs["method"] == m).any()]
    if not shown:
        return None
    fig, ax = plt.subplots(figsize=(10, 0.6 * len(shown) + 1.2))
    for i, method in enumerate(shown):
        acc = runs[runs["method"] == method]["acc"] * 100
        ax.barh(i, acc.mean(), xerr=acc.std() if len(acc) > 1 else None, color="lightsteelblue", capsize=3)
        ax.scatter(acc, [i] * len(acc), color="black", s=12, zorder=3)
    ax.set_yticks(range(len(shown)), [textwrap.fill(m, 60) for m in shown], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("test accuracy, Hungarian (%); bar: mean ± std over seeds; dots: seeds")
    ax.set_title(f"{DATASET_TITLES[dataset]}: clustering on the test images")
    fig.subplots_adjust(left=0.4, right=0.97, bottom=0.8 / fig.get_size_inches()[1])  # room for the names, wrapped
    target = out / "figures" / f"accuracy_{dataset}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=80)
    plt.close(fig)
    return str(target.relative_to(out))


def sweeps_run(storage, studies: list[str]) -> list[str]:
    """Each sweep run of this experiment's studies: its command, hardware and wall time, as the
    driver recorded them (src/experiments/common/sweep_pool.record_run)."""
    lines = []
    for name in studies:
        for run in optuna.load_study(study_name=name, storage=storage).user_attrs.get("runs", []):
            gpus = f", {run['gpus']} GPU(s)" if run.get("gpus") else ""
            lines.append(f"  - {name}: `python -m src.clustering {run['reproduce']}` on {run['device']} "
                         f"({run['cpus']} CPU threads{gpus}), started {run['started']}, "
                         f"{run['wall_seconds'] / 60:.0f} min, exit code {run['exit_code']}")
    return lines


def pretraining_args(r: DictConfig) -> str:
    """clustering.pretraining as the command line writes it, every key (null: not run)."""
    return " ".join(f"clustering.pretraining.{name}={'null' if e is None else e}" for name, e in r.pretraining.items())


def build_report(r: DictConfig) -> Path:
    out = Path(r.out)
    storage, names = reported_studies(r, "clustering")
    df = pd.DataFrame(own_trials(r, records_of(storage, names)) + other_trials(r))
    if df.empty or not (df["source"] == "clustering").any():
        raise UserError(f"No finished trial of this experiment in {masked(str(r.storage))} has "
                        f"{pretraining_args(r)}, clustering.dec_epochs={r.dec_epochs} and clustering.limit={r.limit}; "
                        "the table in clustering.out is left as it is.")
    out.mkdir(parents=True, exist_ok=True)
    df = df.sort_values(["dataset", "method", "seed", "study", "trial"]).drop_duplicates(["dataset", "method", "seed"])
    df.to_csv(out / "trials.csv", index=False, float_format="%.6g")
    copy_studies(r, storage, sorted(set(df.loc[df["source"] == "clustering", "study"])))

    dec = df[df["method"].isin([m for p in active(r) for m in method_names(p)[1:]])]
    limited = "" if r.limit is None else (f" (this experiment's own rows on the first {r.limit} images of each "
                                          "split only: a quick check)")
    lines = ["# Clustering: every method of the seeds on one protocol", "",
             f"Every method{limited} is trained on the 55,000 training images the project's data module keeps for "
             "training (5,000 of the 60,000 held out for validation, seeded) and scored on the 10,000 test "
             "images: Hungarian accuracy (one cluster per class), majority-vote accuracy (each cluster named "
             "by its most frequent class), NMI and ARI (scikit-learn); mean ± std over seeds. Labels are used "
             "only to score; the validation column is what a choice among settings would read (no row here "
             "was chosen by a test score). Each cell's trials are in `trials.csv`. The published numbers "
             "beside the rows come with their own protocols: most train and score on all 70,000 images at "
             "once, which is not this table's protocol.", "",
             "DEC and IDEC (src/models/dec.py) start from "
             + "; and from ".join(f"{PRETRAININGS[p]['recipe']}, {e} epoch{'s' if e > 1 else ''} (rows "
                                  f"'{method_names(p)[0]}', '{method_names(p)[1]}', '{method_names(p)[2]}')"
                                  for p, e in active(r).items())
             + ". One DEC and one IDEC run on each pretrained seed (their seed is the pretraining's); SGD lr 0.01, momentum 0.9, "
             "batch 256, target every 140 steps, stopped when fewer than 0.1% of the training images change "
             f"cluster, at most {r.dec_epochs} epochs. Their minutes are DEC's own, after the pretraining's "
             "(the autoencoder + k-means row).", "",
             *(["What the numbers say: [discussion.md](discussion.md).", ""] if (out / "discussion.md").is_file() else []),
             f"Rebuild: `python -m src.clustering clustering.run=false clustering.storage={out / STUDIES_COPY} "
             f"{pretraining_args(r)} clustering.dec_epochs={r.dec_epochs}"
             + ("" if r.limit is None else f" clustering.limit={r.limit}")
             + f"`; rerun: `python -m src.clustering {pretraining_args(r)} "
               f"clustering.dec_epochs={r.dec_epochs}` (resumes).", ""]
    for dataset in r.datasets:
        lines += [f"## {DATASET_TITLES[dataset]}", "", table(df, r, dataset).to_markdown(index=False), ""]
        picture = figure(df, r, dataset, out)
        if picture:
            lines += [f"![{DATASET_TITLES[dataset]}: accuracy per method]({picture})", ""]
    lines += ["## Sources and runs", ""]
    for source, runs in sorted(df.groupby("source"), key=lambda item: item[0] != "clustering"):  # this one first
        where = "this experiment's studies (`studies.log` here)" if source == "clustering" else f"`{source}`"
        lines.append(f"- {where}: {len(runs)} trial{'s' if len(runs) > 1 else ''}; commits "
                     f"{', '.join(sorted(runs['commit'].unique()))}; devices {', '.join(sorted(runs['device'].unique()))}")
        if source == "clustering":
            lines += sweeps_run(storage, sorted(set(runs["study"])))
    if len(dec):
        lines.append(f"- DEC and IDEC: {dec['wall_seconds'].sum() / 3600:.2f} h of trial time in all")
    lines += ["", f"The studies' copy: `{STUDIES_COPY}` (an Optuna journal file; `optuna-dashboard {STUDIES_COPY}`).", ""]
    path = out / "README.md"
    path.write_text("\n".join(lines))
    return path
