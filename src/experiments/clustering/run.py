"""DEC and IDEC with one command, then the clustering table: `python -m src.clustering
[clustering.key=value ...]` (this module; src/clustering.py is its short name).

For each data set and each pretraining of `clustering.pretraining` (seed 003's autoencoder,
sweeps/seed003_<dataset>.yaml, and DEC-keras's, sweeps/dec_keras_<dataset>.yaml), the autoencoder
is pretrained through the project's sweeper, one run per seed; as soon as every seed of it has
finished, DEC and IDEC run on each pretrained run (sweeps/dec_<dataset>.yaml, `model.pretrained`
= that run's directory). Every study goes into one Optuna storage (conf/clustering.yaml); run the same
command again and only what is missing runs. Then the table (report.py).
"""
from pathlib import Path

import hydra
import optuna
from omegaconf import DictConfig
from optuna.trial import TrialState

from src.experiments.clustering.report import DATASETS, PRETRAININGS, active, build_report, study_name
from src.experiments.common.driver import bad, check_shared, drive
from src.experiments.common.sweep_pool import run_studies
from src.runtime.errors import UserError
from src.runtime.paths import CONF_DIR
from src.trials.records import open_studies

BATCH_SIZE = 256  # sweeps/seed003_*.yaml and dec_*.yaml


def check(r: DictConfig) -> None:
    check_shared(r, "clustering", DATASETS, BATCH_SIZE, counts=("dec_epochs", "seeds", "trials_per_gpu", "cpu_jobs", "parallel_studies"))
    for name, epochs in r.pretraining.items():
        if name not in PRETRAININGS:
            bad("clustering", f"pretraining.{name}", epochs, f"a pretraining of {', '.join(PRETRAININGS)} "
                "(src/experiments/clustering/report.py PRETRAININGS, each with its sweeps/<name>_<dataset>.yaml)")
        if epochs is not None and (not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1):
            bad("clustering", f"pretraining.{name}", epochs, "an integer >= 1 (its epochs) or null (not run)")
    if not active(r):
        bad("clustering", "pretraining", r.pretraining, "epochs for at least one pretraining, e.g. "
            "clustering.pretraining.seed003=60")


def pretraining(r: DictConfig, dataset: str, name: str) -> dict:
    return {"study": study_name(r, dataset, name), "sweep": f"{name}_{dataset}", "fixed": {},
            "pretraining": name, "dataset": dataset, "epochs": r.pretraining[name],
            "overrides": [f"hydra.sweeper.params.seed='range(0,{r.seeds})'"], "params": {}}


def pretrained_runs(r: DictConfig, study: str) -> dict[int, str]:
    """{seed: run directory} of the pretraining study's finished runs."""
    storage, names = open_studies(r.storage)
    if study not in names:
        return {}
    trials = optuna.load_study(study_name=study, storage=storage).get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return {t.user_attrs["seed"]: t.user_attrs["run_dir"] for t in sorted(trials, key=lambda t: t.number)
            if t.user_attrs.get("seed", r.seeds) < r.seeds}


def dec_after(r: DictConfig):
    """The follow-up of a pretraining study: DEC and IDEC on each of its seeds' runs, once all
    of them have finished and are on this machine."""
    def follow_up(sweep: dict) -> dict | None:
        if "pretraining" not in sweep:
            return None  # DEC's own study
        dataset = sweep["dataset"]
        runs = pretrained_runs(r, sweep["study"])
        if len(runs) < r.seeds:
            print(f"=== DEC on {dataset} waits: {len(runs)} of {r.seeds} pretraining seeds finished "
                  f"(study {sweep['study']}); run the same command again.", flush=True)
            return None
        missing = [d for d in runs.values() if not (Path(d) / "config.yaml").is_file()]
        if missing:
            raise UserError(f"The pretrained runs of study {sweep['study']} in clustering.storage are not on this "
                            f"machine ({', '.join(missing[:2])}{', ...' if len(missing) > 2 else ''}), so DEC cannot "
                            "start from them. Run in the folder where they were trained, or point "
                            "clustering.storage at a new file to pretrain again.")
        dirs = ",".join(f"'{runs[seed]}'" for seed in sorted(runs))
        return {"study": study_name(r, dataset, sweep["pretraining"], dec=True), "sweep": f"dec_{dataset}", "fixed": {},
                "epochs": r.dec_epochs, "overrides": [f"model.pretrained=choice({dirs})"],
                "params": {}}
    return follow_up


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="clustering")
def main(cfg: DictConfig) -> None:
    drive(cfg.clustering, "clustering", check,
          lambda r: run_studies(r, [pretraining(r, d, p) for d in r.datasets for p in active(r)], dec_after(r)),
          build_report)


if __name__ == "__main__":
    main()
