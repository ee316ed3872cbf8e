"""DEC and IDEC with one command, then the clustering table: `python -m src.clustering
[clustering.key=value ...]` (this module; src/clustering.py is its short name).

For each data set, seed 003's autoencoder is pretrained through the project's sweeper, one run
per seed (sweeps/seed003_<dataset>.yaml); as soon as every seed of it has finished, DEC and IDEC
run on each pretrained run (sweeps/dec_<dataset>.yaml, `model.pretrained` = that run's
directory). Every study goes into one Optuna storage (conf/clustering.yaml); run the same
command again and only what is missing runs. Then the table (report.py).
"""
import sys
from pathlib import Path

import hydra
import optuna
from omegaconf import DictConfig, OmegaConf
from optuna.trial import TrialState

from src.experiments.clustering.report import DATASETS, build_report, study_name
from src.experiments.common.studies_copy import keep_the_copy
from src.experiments.common.sweep_pool import run_studies
from src.runtime.config_check import min_limit
from src.runtime.errors import UserError, exit_with
from src.runtime.paths import CONF_DIR
from src.trials.records import open_studies

BATCH_SIZE = 256  # sweeps/seed003_*.yaml and dec_*.yaml


def check(r: DictConfig) -> None:
    def bad(key, value, allowed):
        raise UserError(f"Config key 'clustering.{key}' is {value!r}; allowed: {allowed}.")

    if not r.datasets or any(d not in DATASETS for d in r.datasets):
        bad("datasets", OmegaConf.to_container(r.datasets), f"a non-empty list of {', '.join(DATASETS)}")
    for key in ("epochs", "dec_epochs", "seeds", "trials_per_gpu", "cpu_jobs", "parallel_studies"):
        if not isinstance(r[key], int) or isinstance(r[key], bool) or r[key] < 1:
            bad(key, r[key], "an integer >= 1")
    for key in ("run", "report"):
        if not isinstance(r[key], bool):
            bad(key, r[key], "true or false")
    if r.limit is not None and (not isinstance(r.limit, int) or r.limit < min_limit(BATCH_SIZE)):
        bad("limit", r.limit, f"null or an integer >= {min_limit(BATCH_SIZE)} (two batches of {BATCH_SIZE})")


def pretraining(r: DictConfig, dataset: str) -> dict:
    return {"study": study_name(r, dataset, "seed003"), "sweep": f"seed003_{dataset}", "fixed": {},
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
        if not sweep["study"].startswith("seed003_"):
            return None
        dataset = sweep["sweep"].removeprefix("seed003_")
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
        return {"study": study_name(r, dataset, "dec"), "sweep": f"dec_{dataset}", "fixed": {},
                "epochs": r.dec_epochs, "overrides": [f"model.pretrained=choice({dirs})"],
                "params": {}}
    return follow_up


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="clustering")
def main(cfg: DictConfig) -> None:
    r = cfg.clustering
    rc = 0
    try:
        check(r)
        if r.report:  # not hours of runs before a table that cannot be written
            keep_the_copy(r, open_studies(r.storage)[1])
        if r.run:
            rc = run_studies(r, [pretraining(r, d) for d in r.datasets], dec_after(r))
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
