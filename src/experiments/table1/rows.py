"""Table 1's rows from the finished runs, as pandas tables: our best (n, m) per s against the
paper's row, the flat baselines, and where the runs came from. Numbers only; report.py
writes them (CSV as they are, markdown through common/cells.py).

A row is a Table 1 row under one setting of conf/levers/ (`levers`: `none` is the paper as
described; others beside it, in `reproduce.levers` order). A score appears as two columns,
`<score> mean` and `<score> std` over the seeds of the row's point (std 0 for one seed); a row
without runs has `seeds` 0 and NaN or NA elsewhere, which the writers show as "not run".
"""
import optuna
import pandas as pd
from omegaconf import DictConfig

from src.experiments.common.cells import NOT_RUN
from src.experiments.table1 import paper
from src.experiments.table1.studies import best_point, levers_of, settings

# (column, record key, scale): scores are fractions in the records, percent in the report
SCORES = [("loss train", "train_loss", 1), ("loss test", "test_loss", 1),
          ("acc train (majority)", "train_acc_majority", 100), ("acc test (majority)", "test_acc_majority", 100),
          ("acc train (Hungarian)", "train_acc", 100), ("acc test (Hungarian)", "test_acc", 100),
          ("NMI test", "test_nmi", 1)]
POINT = ("model", "dataset", "latent", "layers", "hidden", "seed", "epochs", "limit", "levers")
ROW = ["dataset", "s", "levers"]  # what names a row of the report: a row of Table 1 under a setting


def unique_runs(records: list[dict]) -> list[dict]:
    """One record per (model, data set, s, n, m, seed, length): a point run in two studies
    (the paper's point inside the full grid) counts once, from the earlier study."""
    seen, runs = set(), []
    for r in sorted(records, key=lambda r: (r["study"], r["trial"])):
        key = tuple(levers_of(r) if k == "levers" else r.get(k) for k in POINT)
        if key not in seen:
            seen.add(key)
            runs.append(r)
    return runs


def runs_frame(runs: list[dict]) -> pd.DataFrame:
    """One row per run: its settings, its scores under the report's column names (scaled),
    and `trace` (study#trial)."""
    df = pd.DataFrame(runs, columns=[*POINT, "study", "trial", *(key for _, key, _ in SCORES)])
    df = df.assign(**{column: df[key] * scale for column, key, scale in SCORES}, s=df["latent"],
                   levers=[levers_of(r) for r in runs])
    return df.assign(trace=df["study"] + "#" + df["trial"].astype(str))


def summary(runs: pd.DataFrame, columns: list[str], prefix: str = "") -> pd.DataFrame:
    """Per row (ROW): `seeds`, mean and std of each column (std 0 for one seed), `trials`, the
    runs' traces in seed order, and the label-free pick: the seed whose run ended with the
    lowest training loss (the paper's form, on the training images), which uses no label."""
    grouped = runs.sort_values("seed").groupby(ROW)
    stats = grouped[columns].agg(["mean", "std"])
    stats.columns = [f"{prefix}{column} {stat}" for column, stat in stats.columns]
    stats = stats.fillna({f"{prefix}{column} std": 0.0 for column in columns})  # one seed
    stats.insert(0, f"{prefix}seeds", grouped.size())
    stats[f"{prefix}trials"] = grouped["trace"].agg(", ".join)
    picks = runs.loc[grouped["loss train"].idxmin()].set_index(ROW)
    stats[f"{prefix}pick seed"] = picks["seed"]
    stats[f"{prefix}pick acc test (majority)"] = picks["acc test (majority)"]
    return stats


def signed(value) -> str:
    return NOT_RUN if pd.isna(value) else f"{value:+.2f}"


class Rows:
    def __init__(self, r: DictConfig, runs: list[dict], storage):
        self.r, self.runs, self.storage = r, runs, storage
        self.frame = runs_frame(runs)

    # --- rows ------------------------------------------------------------------------------
    def paper_rows(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The paper's rows (or baselines), each once per setting, in the paper's order."""
        each = pd.DataFrame({"levers": settings(self.r)})
        return rows.merge(each, how="cross")

    def best_runs(self, model: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Per row of the paper and setting: the best (n, m) at its s (seed 0's val accuracy),
        and the runs of that point over every seed."""
        points, chosen = [], []
        df = self.frame[self.frame["model"] == model]
        for row in paper.TABLE1:
            for levers in settings(self.r):
                point = best_point(self.runs, model, row.dataset, row.latent, self.r.epochs, self.r.limit, levers)
                at_s = df[(df["dataset"] == row.dataset) & (df["latent"] == row.latent) & (df["levers"] == levers)]
                tried = at_s.loc[at_s["seed"] == 0, ["layers", "hidden"]].drop_duplicates()
                points.append({"dataset": row.dataset, "s": row.latent, "levers": levers,
                               "n": point and point["layers"], "m": point and point["hidden"],
                               "(n, m) tried": len(tried)})
                if point is not None:
                    match = at_s["hidden"] == point["hidden"]
                    if model == "conv_vae":
                        match &= at_s["layers"] == point["layers"]
                    chosen.append(at_s[match])
        points = pd.DataFrame(points).astype({"n": "Int64", "m": "Int64"}).set_index(ROW)
        return points, pd.concat(chosen) if chosen else self.frame.iloc[:0]

    def table_rows(self) -> pd.DataFrame:
        """Table 1's rows, in the paper's order, each under every setting, with the flat
        model's best m beside them."""
        scores = [column for column, _, _ in SCORES]
        table = self.paper_rows(pd.DataFrame(paper.TABLE1).rename(columns={
            "latent": "s", "layers": "paper n", "hidden": "paper m", "loss_train": "paper loss train",
            "loss_test": "paper loss test", "acc_train": "paper acc train", "acc_test": "paper acc test"}))
        points, runs = self.best_runs("conv_vae")
        flat_points, flat_runs = self.best_runs("flat_vae")
        table = table.join(points, on=ROW).join(summary(runs, scores), on=ROW)
        table = table.join(flat_points["m"].rename("flat m"), on=ROW)
        table = table.join(summary(flat_runs, ["acc test (majority)"], prefix="flat "), on=ROW)
        table[["seeds", "flat seeds"]] = table[["seeds", "flat seeds"]].fillna(0).astype(int)
        table[["trials", "flat trials"]] = table[["trials", "flat trials"]].fillna("")
        table["pick seed"] = table["pick seed"].astype("Int64")
        table["diff acc test"] = table["acc test (majority) mean"] - table["paper acc test"]
        table["conv - flat"] = table["acc test (majority) mean"] - table["flat acc test (majority) mean"]
        return table[["dataset", "s", "levers", "paper n", "paper m", "n", "m", "(n, m) tried", "seeds",
                      *(f"{c} {stat}" for c in scores for stat in ("mean", "std")),
                      "pick seed", "pick acc test (majority)",
                      "paper loss train", "paper loss test", "paper acc train", "paper acc test", "diff acc test",
                      "flat m", "flat acc test (majority) mean", "flat acc test (majority) std", "conv - flat",
                      "trials", "flat trials", "flat seeds"]]

    def baseline_rows(self) -> pd.DataFrame:
        """The flat model at the paper's stated peak (s, m) per data set, every seed."""
        bases = self.paper_rows(pd.DataFrame(list(paper.FLAT_BASELINE.values())).rename(
            columns={"latent": "s", "hidden": "m", "acc": "paper"}))
        df = self.frame[self.frame["model"] == "flat_vae"]
        at_peak = df.merge(bases[[*ROW, "m"]], left_on=[*ROW, "hidden"], right_on=[*ROW, "m"])
        table = bases.join(summary(at_peak, ["acc test (majority)", "acc test (Hungarian)"]), on=ROW)
        table["seeds"] = table["seeds"].fillna(0).astype(int)
        table["diff"] = table["acc test (majority) mean"] - table["paper"]
        return table

    def provenance(self) -> dict:
        studies = sorted(self.frame["study"].unique())
        commands, hardware, sweep_seconds = [], set(), 0.0
        for name in studies:
            runs = optuna.load_study(study_name=name, storage=self.storage).user_attrs.get("runs")
            if runs is None:  # a study run by src.train itself (the levers screen): its trials record their overrides
                commands.append(f"python -m src.train -m ... (study {name}; see its trials' overrides)")
            for run in runs or []:
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
