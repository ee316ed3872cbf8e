"""Table 1's rows from the finished runs: our best (n, m) per s against the paper's row, the
flat baselines, and where the runs came from. Numbers only; report.py writes them."""
import statistics

import optuna
from omegaconf import DictConfig

from src.experiments.table1 import paper
from src.experiments.table1.studies import best_point
from src.trials.records import select

NOT_RUN = "not run"
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


def trace(runs: list[dict]) -> str:
    return ", ".join(f"{r['study']}#{r['trial']}" for r in runs)


class Rows:
    def __init__(self, r: DictConfig, runs: list[dict], storage):
        self.r, self.runs, self.storage = r, runs, storage

    # --- rows ------------------------------------------------------------------------------
    def best_runs(self, model: str, dataset: str, latent: int) -> tuple[dict | None, list[dict]]:
        """The best (n, m) at this s (seed 0's val accuracy) and its runs over every seed."""
        point = best_point(self.runs, model, dataset, latent, self.r.epochs, self.r.limit, self.r.levers)
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
