"""Reproduce Table 1 with one command: `python -m src.reproduce [reproduce.key=value ...]`
(this module; src/reproduce.py is its short name).

For each data set, through the project's sweeper (`python -m src.train -m sweep=...`), all
studies in one Optuna storage (conf/reproduce.yaml):
  1. the conv model over its (n, m) grid at each s of the paper, and the flat baseline over
     m, at seed 0; `reproduce.grid=paper` runs only the paper's (n, m) per s;
  2. seeds 1..seeds-1 of the best (n, m) of each s (by validation accuracy);
then writes the report (report.py beside this file). Every GPU found runs trials (trials_per_gpu each);
without one, the CPU does (`reproduce.cpu_jobs` trials at once). `reproduce.parallel_studies`
sweeps run at once (a study's seeds start as soon as its grid is done), each writing its
output to <dir>/<study>/sweep.log when there is more than one. Everything resumes: run the
same command again and only what is missing runs.
"""
import hydra
from omegaconf import DictConfig, OmegaConf

from src.experiments.common.driver import bad as shared_bad
from src.experiments.common.driver import check_shared, drive
from src.experiments.common.sweep_pool import run_studies
from src.experiments.table1 import paper
from src.experiments.table1.report import build_report
from src.experiments.table1.studies import KINDS, best_point, settings, study_name
from src.runtime.paths import CONF_DIR
from src.trials.records import finished_runs

GRIDS = ("full", "paper")
MAX_SEEDS = 10


def check(r: DictConfig) -> None:
    def bad(key, value, allowed):
        shared_bad("reproduce", key, value, allowed)

    batch_size = OmegaConf.load(CONF_DIR / "train.yaml").batch_size  # what every trial trains with
    check_shared(r, "reproduce", ("mnist", "fashion_mnist"), batch_size)
    if r.grid not in GRIDS:
        bad("grid", r.grid, " or ".join(GRIDS))
    levers = sorted(p.stem for p in (CONF_DIR / "levers").glob("*.yaml"))
    chosen = settings(r)
    if not chosen or not all(isinstance(x, str) and x in levers for x in chosen) or len(set(chosen)) != len(chosen):
        bad("levers", r.levers, f"a setting of conf/levers/ or a list of distinct ones: {', '.join(levers)}")
    pretraining = {x: OmegaConf.load(CONF_DIR / "levers" / f"{x}.yaml").get("pretrain_epochs", 0) for x in chosen}
    too_long = {x: n for x, n in pretraining.items() if n >= r.epochs}
    if too_long:  # the trials would refuse it one by one, after the other settings' hours of runs
        bad("levers", r.levers, f"settings whose pretraining leaves epochs of reproduce.epochs={r.epochs} to train ("
            + ", ".join(f"{x} pretrains {n}" for x, n in too_long.items())
            + "); for a quick check set reproduce.levers=none")
    if r.seeds > MAX_SEEDS:
        bad("seeds", r.seeds, f"at most {MAX_SEEDS}")
    if not r.models or any(m not in KINDS for m in r.models):
        bad("models", OmegaConf.to_container(r.models), f"a non-empty list of {', '.join(KINDS)}")
    if r.latent is not None and (not OmegaConf.is_list(r.latent) or not r.latent
                                 or not all(isinstance(s, int) and s >= 1 for s in r.latent)):
        bad("latent", r.latent, "null (every s of the paper) or a list of integers >= 1, e.g. [10,60]")
    if r.latent is not None:
        known = {s for d in r.datasets for m in r.models for s in latents(d, m)}
        unknown = [s for s in r.latent if s not in known]
        if unknown:
            bad("latent", OmegaConf.to_container(r.latent),
                "s values of the paper's Table 1 for the chosen data sets and models: "
                + "; ".join(f"{d} {m}: {', '.join(map(str, latents(d, m)))}" for d in r.datasets for m in r.models))


def latents(dataset: str, model: str) -> list[int]:
    """The s of the paper's Table 1 rows for this data set (flat: and its peak's s)."""
    wanted = paper.latents(dataset)
    if model == "flat_vae":
        wanted = sorted({*wanted, paper.FLAT_BASELINE[dataset].latent})
    return wanted


def chosen_latents(r: DictConfig, dataset: str, model: str) -> list[int]:
    return [s for s in latents(dataset, model) if r.latent is None or s in r.latent]


def grid_sweeps(r: DictConfig, dataset: str, model: str, levers: str) -> list[dict]:
    """Stage 1, at seed 0: a study per s, over the sweep file's (n, m) grid or the paper's point.

    A study per s, because Optuna keeps a parameter's choices fixed within a study: another
    grid is another study."""
    prefix = study_name(model, dataset, r.epochs, r.limit, levers)
    common = {"stage": "grid", "model": model, "dataset": dataset, "levers": levers,
              "sweep": f"{KINDS[model]}_{dataset}", "overrides": [f"levers={levers}"]}
    if r.grid == "full":
        return [{**common, "study": f"{prefix}_s{s}", "fixed": {"latent": s}, "params": {}}
                for s in chosen_latents(r, dataset, model)]
    points = {row.latent: (row.layers, row.hidden) for row in paper.rows(dataset)}
    if model == "flat_vae":
        base = paper.FLAT_BASELINE[dataset]
        points[base.latent] = (None, base.hidden)
    sweeps = []
    for s in chosen_latents(r, dataset, model):
        layers, hidden = points[s]
        params = {"hidden": [hidden]} if model == "flat_vae" else {"layers": [layers], "hidden": [hidden]}
        sweeps.append({**common, "study": f"{prefix}_s{s}_paper", "fixed": {"latent": s}, "params": params})
    return sweeps


def seed_sweep(r: DictConfig, grid_sweep: dict) -> dict | None:
    """Stage 2 of a grid study: seeds 1..seeds-1 of its best (n, m), by seed 0's validation accuracy.

    The study's grid is every seed up to MAX_SEEDS, run in order and stopped after
    seeds-1 of them, so that asking for more seeds later adds to the same study."""
    model, dataset, s = grid_sweep["model"], grid_sweep["dataset"], grid_sweep["fixed"]["latent"]
    levers = grid_sweep["levers"]
    if r.seeds < 2:
        return None
    best = best_point(finished_runs(r.storage), model, dataset, s, r.epochs, r.limit, levers)
    if best is None:
        return None
    fixed = {"latent": s, "hidden": best["hidden"]}
    n = ""
    if model == "conv_vae":
        fixed["layers"], n = best["layers"], f"_n{best['layers']}"
    prefix = study_name(model, dataset, r.epochs, r.limit, levers)
    return {"stage": "seeds", "model": model, "dataset": dataset, "levers": levers, "sweep": grid_sweep["sweep"],
            "overrides": grid_sweep["overrides"],
            "study": f"{prefix}_s{s}{n}_m{best['hidden']}_seeds", "fixed": fixed,
            "params": {"seed": list(range(1, MAX_SEEDS))}, "n_trials": r.seeds - 1}


def reproduce(r: DictConfig) -> int:
    """Every grid study, then each one's seeds study as soon as the grid study is done."""
    grids = [sweep for dataset in r.datasets for levers in settings(r) for model in r.models
             for sweep in grid_sweeps(r, dataset, model, levers)]
    return run_studies(r, grids, lambda sweep: seed_sweep(r, sweep) if sweep["stage"] == "grid" else None)


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="reproduce")
def main(cfg: DictConfig) -> None:
    drive(cfg.reproduce, "reproduce", check, reproduce, build_report)


if __name__ == "__main__":
    main()
