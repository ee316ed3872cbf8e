"""The bake-off with one command: `python -m src.bakeoff [bakeoff.key=value ...]` (this module;
src/bakeoff.py is its short name). For each data set one study through the project's sweeper
(`python -m src.train -m sweep=bakeoff_<dataset>`: model x protocol x seed, every model's seed 0
first), all studies in one Optuna storage (conf/bakeoff.yaml), then the report (report.py), with
seed 003's autoencoder + k-means beside it from the clustering experiment's studies
(`python -m src.clustering` trains that autoencoder, for DEC).
Every GPU found runs trials; without one, the CPU does (`bakeoff.cpu_jobs` at once). Run the
same command again and only what is missing runs.
"""
import hydra
from omegaconf import DictConfig

from src.experiments.bakeoff import published
from src.experiments.bakeoff.report import build_report, study_name
from src.experiments.common.driver import bad, check_shared, drive
from src.experiments.common.sweep_pool import run_studies
from src.runtime.paths import CONF_DIR

BATCH_SIZE = 256  # conf/bakeoff_protocol/


def check(r: DictConfig) -> None:
    check_shared(r, "bakeoff", list(published.RECONSTRUCTION_BCE), BATCH_SIZE)
    if not r.models or any(m not in published.MODELS for m in r.models):
        bad("bakeoff", "models", r.models, f"a non-empty list of {', '.join(published.MODELS)} (conf/model/bakeoff/)")


def sweeps(r: DictConfig) -> list[dict]:
    """The bake-off's study per data set."""
    seeds = [f"hydra.sweeper.params.seed='range(0,{r.seeds})'"]
    return [{"study": study_name(dataset, r.epochs, r.limit), "sweep": f"bakeoff_{dataset}", "fixed": {},
             "overrides": seeds, "params": {"model": [f"bakeoff/{m}" for m in published.MODELS if m in r.models]}}
            for dataset in r.datasets]


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="bakeoff")
def main(cfg: DictConfig) -> None:
    drive(cfg.bakeoff, "bakeoff", check, lambda r: run_studies(r, sweeps(r), lambda sweep: None), build_report)


if __name__ == "__main__":
    main()
