"""The levers' ablation: each setting of conf/levers/ against `none`, from one or more
studies of sweeps/levers_<dataset>.yaml on one row, mean ± std over its seeds, and beside
it the restart that a rule using no label picks (the lowest training loss in the paper's
form after training).

    python -m src.experiments.levers.report [study=levers_mnist_e20] [storage=<journal or URL>] [out=<folder>]
    python -m src.experiments.levers.report study=[levers_mnist_e50,levers_mnist_e50_more] ...
    python -m src.experiments.levers.report ... curve=[20,30,40,49]

Several studies: Optuna keeps one set of choices per parameter and study, so settings
added after a study began go into a study of their own (same storage); the table joins them.

`curve`: epochs (from 0) at which to show the validation accuracy as the trials reported it
to the sweeper's pruner: whether a setting was still improving when it stopped, and where
clustering started after a pretraining.

Labels are used only to score (test and validation columns); the validation accuracy is
what a sweep would choose settings by, and is shown as such.
"""
import sys
from pathlib import Path

import optuna
import pandas as pd
from omegaconf import OmegaConf

from src.experiments.common.cells import cells
from src.experiments.common.studies_copy import copy_studies
from src.runtime.errors import UserError
from src.trials.records import open_studies

DEFAULTS = {"study": "levers_mnist_e20", "storage": None, "out": None, "curve": []}
# (column, trial attribute, scale)
SCORES = [("acc test (majority)", "test_acc_majority", 100), ("acc test (Hungarian)", "test_acc", 100),
          ("NMI test", "test_nmi", 1), ("smallest cluster (% of test)", "test_smallest_cluster", 100),
          ("clusters without class (test)", "test_clusters_without_class", 1),
          ("acc val (Hungarian)", "val_acc", 100), ("loss train", "train_loss", 1)]
HEADLINE = "acc test (majority)"


def scores(curve) -> list[tuple[str, str, int]]:
    """SCORES, then the validation accuracy at each epoch of `curve`."""
    return SCORES + [(f"acc val at epoch {e}", f"val_acc_epoch_{e}", 100) for e in curve]


def trials(study: optuna.Study, curve=()) -> pd.DataFrame:
    """The study's trials, one row each: state, and each setting as recorded on the trial, else
    as swept (a trial that failed records nothing; a Table 1 study fixes `levers` and, in its
    grid study, `seed` instead of sweeping them); the validation accuracy at each epoch of `curve`."""
    df = study.trials_dataframe(attrs=("number", "state", "params", "user_attrs"))
    swept = {c.removeprefix("params_"): df.pop(c) for c in list(df.columns) if c.startswith("params_")}
    df.columns = [c.removeprefix("user_attrs_") for c in df.columns]
    for key, values in swept.items():
        if key in df:
            values = df[key].combine_first(values).astype(values.dtype)
        df[key] = values
    for epoch in curve:
        reported = {t.number: t.intermediate_values.get(epoch) for t in study.trials}
        df[f"val_acc_epoch_{epoch}"] = df["number"].map(reported).astype(float)
    return df.assign(study=study.study_name)


def settings_order(studies: list[optuna.Study]) -> list[str]:
    """The settings in the order the sweeps list them (`none` first), study after study; a study
    that runs one setting (Table 1's) lists the one its trials record."""
    order: list[str] = []
    for study in studies:
        t = next((t for t in study.trials if "levers" in t.distributions), None)
        names = t.distributions["levers"].choices if t else [x.user_attrs.get("levers") for x in study.trials]
        order += [c for c in dict.fromkeys(names) if c is not None and c not in order]
    return order


ROW = ["dataset", "latent", "layers", "hidden", "epochs"]


def ablation(all_trials: pd.DataFrame, order: list[str], curve=()) -> pd.DataFrame:
    """One row per setting: mean and std over its finished seeds of every score, its
    difference to `none`, the label-free pick among its restarts, and its failed seeds (a seed
    whose failed trial was retried and finished is not one: a killed worker's trial is requeued)."""
    df = all_trials[all_trials["state"] == "COMPLETE"]
    named = scores(curve)
    scaled = df.assign(**{column: df[key] * scale for column, key, scale in named})
    columns = [column for column, _, _ in named]
    grouped = scaled.groupby("levers")
    table = grouped[columns].agg(["mean", "std"])
    table.columns = [f"{column} {stat}" for column, stat in table.columns]
    table.insert(0, "seeds", grouped.size())
    base = table.loc["none", f"{HEADLINE} mean"] if "none" in table.index else float("nan")
    table[f"{HEADLINE} vs none"] = table[f"{HEADLINE} mean"] - base
    table[f"{HEADLINE} vs none: Welch p"] = [welch_p(scaled, name) for name in table.index]
    picks = scaled.loc[grouped["train_loss"].idxmin()].set_index("levers")
    table["label-free pick: seed"] = picks["seed"]
    table[f"label-free pick: {HEADLINE}"] = picks[HEADLINE]
    table["study"] = grouped["study"].agg(lambda n: ", ".join(sorted(set(n))))
    table["trials"] = grouped["number"].agg(lambda n: ", ".join(f"#{x}" for x in sorted(n)))
    finished = set(zip(df["levers"], df["seed"]))
    failed = all_trials[all_trials["state"] == "FAIL"]
    retried = pd.Series([pair in finished for pair in zip(failed["levers"], failed["seed"])],
                        index=failed.index, dtype=bool)
    failed = failed[~retried].groupby("levers")
    table["failed seeds"] = failed["seed"].agg(lambda s: ", ".join(map(str, sorted(s))))
    table["failed seeds"] = table["failed seeds"].astype(object).fillna("")
    return table.reindex([name for name in order if name in table.index])


def welch_p(scaled: pd.DataFrame, setting: str) -> float:
    """Two-sided p-value of Welch's t-test, the setting's seeds against none's, on the headline
    score: with 3 seeds each, how far a difference stands out of the seeds' spread."""
    from scipy.stats import ttest_ind

    mine, none = (scaled.loc[scaled["levers"] == name, HEADLINE] for name in (setting, "none"))
    if setting == "none" or len(mine) < 2 or len(none) < 2:
        return float("nan")
    return float(ttest_ind(mine, none, equal_var=False).pvalue)


def markdown(table: pd.DataFrame, curve=()) -> str:
    """mean ± std in one cell per score, for reading (one seed: its value; it has no std)."""
    shown = pd.DataFrame(index=table.index)
    shown["seeds"] = table["seeds"].astype(str)
    for column, _, _ in scores(curve):
        shown[column] = cells(table, column)
    shown[f"{HEADLINE} vs none"] = ["none not in these studies" if pd.isna(d) else f"{d:+.2f}" if pd.isna(p)
                                    else f"{d:+.2f} (p={p:.2g})"
                                    for d, p in zip(table[f"{HEADLINE} vs none"], table[f"{HEADLINE} vs none: Welch p"])]
    shown["label-free pick: seed"] = table["label-free pick: seed"].astype(int).astype(str)
    shown[f"label-free pick: {HEADLINE}"] = [f"{a:.2f}" for a in table[f"label-free pick: {HEADLINE}"]]
    shown["study"], shown["trials"], shown["failed seeds"] = table["study"], table["trials"], table["failed seeds"]
    return shown.to_markdown(disable_numparse=True)  # the cells are formatted above


def provenance(df: pd.DataFrame) -> list[str]:
    return [f"- commits: {', '.join(sorted(df['commit'].astype(str).unique()))}",
            f"- devices: {', '.join(sorted(df['device'].astype(str).unique()))}",
            f"- runs: {len(df)}, training time {df['wall_seconds'].sum() / 3600:.1f} h in all"]


def row_text(settings: pd.Series) -> str:
    """The row in the paper's symbols; n and m only for models that have them (not seed 001's)."""
    shape = [f"{symbol}={int(settings[key])}" for symbol, key in (("s", "latent"), ("n", "layers"), ("m", "hidden"))
             if pd.notna(settings[key])]
    return f"{settings['dataset']}, {', '.join(shape)}, {int(settings['epochs'])} epochs"


def write_report(cfg) -> Path:
    storage, names = open_studies(cfg.storage)
    wanted = list(cfg.study)
    missing = [name for name in wanted if name not in names]
    if missing:
        raise UserError(f"study={','.join(missing)}: no such study in storage={cfg.storage} "
                        f"(it holds: {', '.join(names) or 'none'}); run it with "
                        f"`python -m src.train -m sweep=levers_mnist` first.")
    studies = [optuna.load_study(study_name=name, storage=storage) for name in wanted]
    every = pd.concat([trials(study, cfg.curve) for study in studies], ignore_index=True)
    df = every[every["state"] == "COMPLETE"]
    rows = df[ROW].drop_duplicates()
    if len(rows) > 1:
        raise UserError(f"study={','.join(wanted)}: the studies' trials are on {len(rows)} different rows "
                        f"({'; '.join(', '.join(f'{k}={v}' for k, v in r.items()) for r in rows.to_dict('records'))}); "
                        "an ablation compares settings on one row: give studies of the same row.")
    table = ablation(every, settings_order(studies), cfg.curve)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "ablation.csv", float_format="%.4f")
    settings = df.iloc[0]
    title = " + ".join(wanted)
    lines = [f"# The levers, one at a time: {title}", "",
             f"{row_text(settings)}, seeds {', '.join(str(int(x)) for x in sorted(df['seed'].unique()))}. "
             "Mean ± std over seeds; percent except NMI, the cluster count and the loss.", "",
             markdown(table, cfg.curve), "",
             "The label-free pick is the seed with the lowest training loss in the paper's form "
             "(the loss task on the training images after training); no label is used to pick it. "
             "Validation labels enter only the `acc val` columns (at the end: the objective a sweep would select by). "
             "`vs none` gives Welch's two-sided p-value (scipy) of the setting's seeds against none's "
             "on that score: with 3 seeds a side, a difference with p well above 0.05 is within the seeds' spread. "
             "A failed seed stopped with an error (its reason is in the trial's fail_reason), was not "
             "retried to the end, and is "
             "not in the means.", "",
             "Rebuild: `python -m src.experiments.levers.report "
             f"study={study_arg(wanted)} storage={out / 'studies.log'} out={out}"
             f"{' curve=[' + ','.join(map(str, cfg.curve)) + ']' if cfg.curve else ''}`", "", *provenance(df), ""]
    (out / "ablation.md").write_text("\n".join(lines))
    copy_studies(OmegaConf.create({"storage": cfg.storage, "out": str(out)}), storage, wanted)
    return out / "ablation.md"


def study_arg(names: list[str]) -> str:
    return names[0] if len(names) == 1 else "[" + ",".join(names) + "]"


def main(argv=None) -> None:
    cfg = OmegaConf.merge(DEFAULTS, OmegaConf.from_cli(list(sys.argv[1:] if argv is None else argv)))
    if isinstance(cfg.study, str):
        cfg.study = [cfg.study]
    cfg.storage = cfg.storage or f"outputs/sweeps/{cfg.study[0]}/study.log"
    cfg.out = cfg.out or f"docs/results/levers/{cfg.study[0]}"
    try:
        print(write_report(cfg))
    except UserError as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
