"""The bake-off with one command: `python -m src.bakeoff [bakeoff.key=value ...]` (this module;
src/bakeoff.py is its short name). For each data set one study through the project's sweeper
(`python -m src.train -m sweep=bakeoff_<dataset>`: model x protocol x seed, every model's seed 0
first), all studies in one Optuna storage (conf/bakeoff.yaml), then the report (report.py), with
seed 003's autoencoder + k-means beside it from the clustering experiment's studies
(`python -m src.clustering` trains that autoencoder, for DEC).
Every GPU found runs trials; without one, the CPU does (`bakeoff.cpu_jobs` at once). Run the
same command again and only what is missing runs.
"""
import sys

import hydra
from omegaconf import DictConfig, OmegaConf

from src.experiments.bakeoff import published
from src.experiments.bakeoff.report import build_report, study_name
from src.experiments.common.studies_copy import keep_the_copy
from src.experiments.common.sweep_pool import run_studies
from src.runtime.config_check import min_limit
from src.runtime.errors import UserError, exit_with
from src.runtime.paths import CONF_DIR
from src.trials.records import open_studies

BATCH_SIZE = 256  # conf/bakeoff_protocol/


def check(r: DictConfig) -> None:
    def bad(key, value, allowed):
        raise UserError(f"Config key 'bakeoff.{key}' is {value!r}; allowed: {allowed}.")

    datasets = list(published.RECONSTRUCTION_BCE)
    if not r.datasets or any(d not in datasets for d in r.datasets):
        bad("datasets", OmegaConf.to_container(r.datasets), f"a non-empty list of {', '.join(datasets)}")
    if not r.models or any(m not in published.MODELS for m in r.models):
        bad("models", OmegaConf.to_container(r.models),
            f"a non-empty list of {', '.join(published.MODELS)} (conf/model/bakeoff/)")
    for key in ("epochs", "seeds", "trials_per_gpu", "cpu_jobs", "parallel_studies"):
        if not isinstance(r[key], int) or isinstance(r[key], bool) or r[key] < 1:
            bad(key, r[key], "an integer >= 1")
    for key in ("run", "report"):
        if not isinstance(r[key], bool):
            bad(key, r[key], "true or false")
    if r.limit is not None and (not isinstance(r.limit, int) or r.limit < min_limit(BATCH_SIZE)):
        bad("limit", r.limit, f"null or an integer >= {min_limit(BATCH_SIZE)} (two batches of {BATCH_SIZE})")


def sweeps(r: DictConfig) -> list[dict]:
    """The bake-off's study per data set."""
    seeds = [f"hydra.sweeper.params.seed='range(0,{r.seeds})'"]
    return [{"study": study_name(dataset, r.epochs, r.limit), "sweep": f"bakeoff_{dataset}", "fixed": {},
             "overrides": seeds, "params": {"model": [f"bakeoff/{m}" for m in published.MODELS if m in r.models]}}
            for dataset in r.datasets]


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="bakeoff")
def main(cfg: DictConfig) -> None:
    r = cfg.bakeoff
    rc = 0
    try:
        check(r)
        if r.report:  # not hours of runs before a report that cannot be written
            keep_the_copy(r, open_studies(r.storage)[1])
        if r.run:
            rc = run_studies(r, sweeps(r), lambda sweep: None)
        if r.report:
            print(f"report: {build_report(r)}", flush=True)
    except UserError as exc:
        exit_with(exc)
    except KeyboardInterrupt:
        print("Interrupted; run the same command again to go on where it stopped.", file=sys.stderr)
        sys.exit(130)
    sys.exit(rc)


if __name__ == "__main__":
    main()
