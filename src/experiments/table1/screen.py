"""The sweeper's screen of (n, m) on one Table 1 row: each point's validation scores and the
point the sweeper chooses (highest validation accuracy, its objective), as a table with a copy
of the studies beside it.

    python -m src.experiments.table1.screen study=<name> [storage=<journal or URL>] [out=<folder>]

A screen is one study of `python -m src.train -m sweep=table1_<dataset> epochs=<short> ...`
over `layers` and `hidden` at one latent size, one seed, one setting of the levers. Only
validation labels are read: the test scores are left out, so that nothing here can be chosen
by them. Whether the choice holds is for the chosen point's full-length runs to show.
"""
import sys
from pathlib import Path

import optuna
import pandas as pd
from omegaconf import OmegaConf

from src.experiments.common.studies_copy import STUDIES_COPY, copy_studies
from src.experiments.levers.report import provenance, trials
from src.runtime.errors import UserError
from src.trials.records import open_studies

DEFAULTS = {"study": None, "storage": None, "out": None}
ROW = ["dataset", "latent", "levers", "epochs", "seed"]
# (column, trial attribute, scale)
COLUMNS = [("acc val (Hungarian)", "val_acc", 100), ("acc val (majority)", "val_acc_majority", 100),
           ("NMI val", "val_nmi", 1), ("clusters without class (val)", "val_clusters_without_class", 1),
           ("loss val", "val_loss", 1), ("minutes", "wall_seconds", 1 / 60)]
OBJECTIVE = COLUMNS[0][0]


def points(df: pd.DataFrame) -> pd.DataFrame:
    """One row per finished (n, m), in grid order, the sweeper's choice marked."""
    table = pd.DataFrame({"n": df["layers"].astype(int), "m": df["hidden"].astype(int), "trial": df["number"]})
    for column, key, scale in COLUMNS:
        table[column] = df[key] * scale
    table = table.sort_values(["n", "m"]).reset_index(drop=True)
    table["chosen"] = table.index == table[OBJECTIVE].idxmax()
    return table


def grid(table: pd.DataFrame) -> pd.DataFrame:
    """The objective as an n x m grid, for reading."""
    return table.pivot(index="n", columns="m", values=OBJECTIVE).rename(columns=lambda m: f"m={m}")


def write_screen(cfg) -> Path:
    storage, names = open_studies(cfg.storage)
    if cfg.study not in names:
        raise UserError(f"study={cfg.study}: no such study in storage={cfg.storage} (it holds: "
                        f"{', '.join(names) or 'none'}); run the screen with `python -m src.train -m "
                        "sweep=table1_<dataset> epochs=<short> ...` first (docs/results/discussion.md).")
    study = optuna.load_study(study_name=cfg.study, storage=storage)
    every = trials(study)
    df = every[every["state"] == "COMPLETE"]
    if df.empty:
        raise UserError(f"study={cfg.study}: no finished trial yet, so there is no screen to write.")
    rows = df[ROW].drop_duplicates()
    if len(rows) > 1:
        raise UserError(f"study={cfg.study}: its trials differ in more than (n, m) ({len(rows)} settings of "
                        f"{', '.join(ROW)}); a screen compares (n, m) on one row, one seed, one setting.")
    table = points(df)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "screen.csv", index=False, float_format="%.4f")
    row = df.iloc[0]
    best = table[table["chosen"]].iloc[0]
    unfinished = every[every["state"] != "COMPLETE"]
    shown = table.assign(chosen=table["chosen"].map({True: "chosen", False: ""}))
    lines = [f"# The sweeper's screen of (n, m): {cfg.study}", "",
             f"{row['dataset']}, s={int(row['latent'])}, levers {row['levers']}, {int(row['epochs'])} epochs, "
             f"seed {int(row['seed'])}; {len(table)} points. The sweeper chooses by validation accuracy "
             f"(Hungarian, the 5,000 held-out images' labels): **(n, m) = ({int(best['n'])}, {int(best['m'])})**, "
             f"{best[OBJECTIVE]:.2f}%. Test scores are not shown. Percent except NMI and the loss.", "",
             f"{OBJECTIVE}:", "", grid(table).to_markdown(floatfmt=".2f"), "",
             shown.to_markdown(index=False, floatfmt=".2f"), "",
             *([f"Not finished: trials {', '.join(f'#{n} ({s})' for n, s in zip(unfinished['number'], unfinished['state']))}.", ""]
               if len(unfinished) else []),
             f"Rebuild: `python -m src.experiments.table1.screen study={cfg.study} "
             f"storage={out / STUDIES_COPY} out={out}`", "", *provenance(df), ""]
    (out / "screen.md").write_text("\n".join(lines))
    copy_studies(OmegaConf.create({"storage": cfg.storage, "out": str(out)}), storage, [cfg.study])
    return out / "screen.md"


def main(argv=None) -> None:
    cfg = OmegaConf.merge(DEFAULTS, OmegaConf.from_cli(list(sys.argv[1:] if argv is None else argv)))
    if not cfg.study:
        sys.exit("error: study=<name> is needed: the screen's study (its hydra.sweeper.study_name).")
    cfg.storage = cfg.storage or f"outputs/sweeps/{cfg.study}/study.log"  # the sweeps' default
    cfg.out = cfg.out or f"docs/results/levers/{cfg.study}"
    try:
        print(write_screen(cfg))
    except UserError as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
