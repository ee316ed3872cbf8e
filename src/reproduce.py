"""Reproduce Table 1 with one command: `python -m src.reproduce [reproduce.key=value ...]`.

For each data set, through the project's sweeper (`python -m src.train -m sweep=...`), all
studies in one Optuna storage (conf/reproduce.yaml):
  1. the conv model over its (n, m) grid at each s of the paper, and the flat baseline over
     m, at seed 0; `reproduce.grid=paper` runs only the paper's (n, m) per s;
  2. seeds 1..seeds-1 of the best (n, m) of each s (by validation accuracy);
then writes the report (src/report.py). Every GPU found runs trials (trials_per_gpu each);
without one, the CPU does (`reproduce.cpu_jobs` trials at once). `reproduce.parallel_studies`
sweeps run at once (a study's seeds start as soon as its grid is done), each writing its
output to <dir>/<study>/sweep.log when there is more than one. Everything resumes: run the
same command again and only what is missing runs.
"""
import os
import platform
import shlex
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

import hydra
import optuna
import torch
from omegaconf import DictConfig, OmegaConf
from optuna.trial import TrialState

from hydra_plugins.optuna5_sweeper._runner import GRID_SIZE_ATTR, _signals_as_interrupt, masked
from src import paper
from src.config_check import min_limit
from src.errors import UserError, exit_with
from src.provenance import git_commit
from src.report import build_report, keep_the_copy
from src.studies import KINDS, best_point, finished_runs, open_studies, study_name

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
# The sweeps read the storage URL from the environment: a password in it then reaches
# neither their command line nor the overrides Hydra saves in every run directory.
STORAGE_ENV = "REPRODUCE_STORAGE"
GRIDS = ("full", "paper")
INTERRUPTED = (130, -signal.SIGINT, -signal.SIGTERM)  # a sweep's exit codes when it was stopped
MAX_SEEDS = 10


def check(r: DictConfig) -> None:
    def bad(key, value, allowed):
        raise UserError(f"Config key 'reproduce.{key}' is {value!r}; allowed: {allowed}.")

    if not r.datasets or any(d not in ("mnist", "fashion_mnist") for d in r.datasets):
        bad("datasets", OmegaConf.to_container(r.datasets), "a non-empty list of mnist, fashion_mnist")
    if r.grid not in GRIDS:
        bad("grid", r.grid, " or ".join(GRIDS))
    for key in ("epochs", "seeds", "trials_per_gpu", "cpu_jobs", "parallel_studies"):
        if not isinstance(r[key], int) or isinstance(r[key], bool) or r[key] < 1:
            bad(key, r[key], "an integer >= 1")
    if r.seeds > MAX_SEEDS:
        bad("seeds", r.seeds, f"at most {MAX_SEEDS}")
    if not r.models or any(m not in KINDS for m in r.models):
        bad("models", OmegaConf.to_container(r.models), f"a non-empty list of {', '.join(KINDS)}")
    batch_size = OmegaConf.load(CONF_DIR / "train.yaml").batch_size  # what every trial trains with
    if r.limit is not None and (not isinstance(r.limit, int) or r.limit < min_limit(batch_size)):
        bad("limit", r.limit, f"null or an integer >= {min_limit(batch_size)} (a trial's dataset.limit: "
                              f"two batches of {batch_size})")
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


def grid_sweeps(r: DictConfig, dataset: str, model: str) -> list[dict]:
    """Stage 1, at seed 0: a study per s, over the sweep file's (n, m) grid or the paper's point.

    A study per s, because Optuna keeps a parameter's choices fixed within a study: another
    grid is another study."""
    prefix = study_name(model, dataset, r.epochs, r.limit)
    if r.grid == "full":
        return [{"stage": "grid", "model": model, "dataset": dataset, "study": f"{prefix}_s{s}",
                 "fixed": {"latent": s}, "params": {}} for s in chosen_latents(r, dataset, model)]
    points = {row.latent: (row.layers, row.hidden) for row in paper.rows(dataset)}
    if model == "flat_vae":
        base = paper.FLAT_BASELINE[dataset]
        points[base.latent] = (None, base.hidden)
    sweeps = []
    for s in chosen_latents(r, dataset, model):
        layers, hidden = points[s]
        params = {"hidden": [hidden]} if model == "flat_vae" else {"layers": [layers], "hidden": [hidden]}
        sweeps.append({"stage": "grid", "model": model, "dataset": dataset, "study": f"{prefix}_s{s}_paper",
                       "fixed": {"latent": s}, "params": params})
    return sweeps


def seed_sweep(r: DictConfig, grid_sweep: dict) -> dict | None:
    """Stage 2 of a grid study: seeds 1..seeds-1 of its best (n, m), by seed 0's validation accuracy.

    The study's grid is every seed up to MAX_SEEDS, run in order and stopped after
    seeds-1 of them, so that asking for more seeds later adds to the same study."""
    model, dataset, s = grid_sweep["model"], grid_sweep["dataset"], grid_sweep["fixed"]["latent"]
    if r.seeds < 2:
        return None
    best = best_point(finished_runs(r.storage), model, dataset, s, r.epochs, r.limit)
    if best is None:
        return None
    fixed = {"latent": s, "hidden": best["hidden"]}
    n = ""
    if model == "conv_vae":
        fixed["layers"], n = best["layers"], f"_n{best['layers']}"
    prefix = study_name(model, dataset, r.epochs, r.limit)
    return {"stage": "seeds", "model": model, "dataset": dataset,
            "study": f"{prefix}_s{s}{n}_m{best['hidden']}_seeds", "fixed": fixed,
            "params": {"seed": list(range(1, MAX_SEEDS))}, "n_trials": r.seeds - 1}


def already_done(storage: optuna.storages.BaseStorage | None, names: list[str], sweep: dict) -> bool:
    """Whether the sweep's study has finished every trial it plans (its grid, or n_trials).

    A rerun starts no sweep process for such a study: it would only say "nothing to run"
    after a few seconds of start-up, and meanwhile count as a running study when the cores
    are shared out among the studies that start beside it (so it is left out when queued,
    before anything is counted). `storage`, `names`: open_studies(reproduce.storage)."""
    if sweep["study"] not in names:
        return False
    study = optuna.load_study(study_name=sweep["study"], storage=storage)
    planned = sweep.get("n_trials", study.user_attrs.get(GRID_SIZE_ATTR))
    finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    return planned is not None and len(finished) >= planned


def sweep_command(r: DictConfig, sweep: dict, cpu_jobs: int = 1) -> list[str]:
    """`python -m src.train -m sweep=<the sweeps/ file>`, its s (and n, m) fixed, `params` swept;
    `cpu_jobs` trials at once where there is no GPU."""
    args = [sys.executable, "-m", "src.train", "-m", f"sweep={KINDS[sweep['model']]}_{sweep['dataset']}",
            f"epochs={r.epochs}", f"hydra.sweeper.study_name={sweep['study']}",
            f"hydra.sweeper.storage=${{oc.env:{STORAGE_ENV}}}", f"hydra.sweep.dir={Path(r.dir) / sweep['study']}"]
    for key, value in sweep["fixed"].items():
        args += [f"~hydra.sweeper.params.{key}", f"{key}={value}"]
    for key, values in sweep["params"].items():
        args.append(f"++hydra.sweeper.params.{key}='choice({','.join(map(str, values))})'")
    if "n_trials" in sweep:
        args.append(f"hydra.sweeper.n_trials={sweep['n_trials']}")
    if r.limit is not None:
        args.append(f"dataset.limit={r.limit}")
    if torch.cuda.is_available():
        args += ["trainer=gpu", "hydra.sweeper.n_jobs=null", f"hydra.sweeper.trials_per_gpu={r.trials_per_gpu}"]
    elif cpu_jobs > 1:
        args.append(f"hydra.sweeper.n_jobs={cpu_jobs}")
    return args


def sweep_env(r: DictConfig, trials: int) -> dict:
    """The environment of a sweep started while `trials` trials (its own included) will run at
    once: on the CPU each of its trials gets its share of the cores."""
    env = {**os.environ, STORAGE_ENV: str(r.storage)}
    if not torch.cuda.is_available() and trials > 1:  # share the cores, do not oversubscribe them
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // trials)))
    return env


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "cpu"


def shown(args: list[str]) -> str:
    """A command line with the password of any URL in it masked."""
    return shlex.join(f"{a.split('=', 1)[0]}={masked(a.split('=', 1)[1])}" if "://" in a and "=" in a else a
                      for a in args)


def record_run(r: DictConfig, name: str, command: list[str], seconds: float, rc: int) -> None:
    """Append this sweep's command, commit, device and wall time to its study's `runs` attribute."""
    storage, names = open_studies(r.storage)
    if name not in names:
        return
    study = optuna.load_study(study_name=name, storage=storage)
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else cpu_name()
    runs = study.user_attrs.get("runs", [])
    runs.append({"command": shown(["python", *command[1:]]), "reproduce": shown(sys.argv[1:]),
                 "commit": git_commit(), "device": device, "gpus": torch.cuda.device_count(),
                 "cpus": os.cpu_count(), "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(time.time() - seconds)),
                 "wall_seconds": round(seconds, 1), "exit_code": rc})
    study.set_user_attr("runs", runs)


def say(line: str) -> None:
    """One whole line at once: sweeps report from several threads."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class SweepPool:
    """Runs sweep processes, `reproduce.parallel_studies` at once.

    Each sweep runs in a process group of its own, so that Ctrl-C (or a SIGINT / SIGTERM to
    this process) reaches it exactly once, forwarded by `interrupt`: the sweep then records
    its running trials and stops, and a rerun resumes them."""

    def __init__(self, r: DictConfig):
        self.r = r
        self.executor = ThreadPoolExecutor(r.parallel_studies)
        self.lock = threading.Lock()
        self.running: set[subprocess.Popen] = set()
        self.waiting = 0  # submitted, not started
        self.stopping = False

    def submit(self, sweeps: list[dict]) -> dict:
        """Queue sweeps together: none starts before all are counted as waiting. A sweep whose
        study is already done is neither queued nor counted: its future is done at once."""
        futures, queued = {}, []
        if not sweeps:  # the main loop's turn every second, most often with nothing to queue
            return futures
        storage, names = open_studies(self.r.storage)  # a journal file is read once per batch
        for sweep in sweeps:
            if already_done(storage, names, sweep):
                say(f"=== {sweep['study']}: already done, not started")
                done = Future()
                done.set_result(0)
                futures[done] = sweep
            else:
                queued.append(sweep)
        with self.lock:
            self.waiting += len(queued)
            futures.update({self.executor.submit(self.run, sweep): sweep for sweep in queued})
        return futures

    def trials_at_once(self, sweep: dict) -> tuple[int, int]:
        """(the sweep's own trials at once, every sweep's trials at once) on the CPU, for the
        sweep starting now (called under the lock): `cpu_jobs` per study, as many studies as
        will run at once.

        New studies only come from finished ones, so a sweep that starts with nothing running
        and nothing waiting runs alone to its end: the last seeds study of a run, typically.
        It takes the places of the studies that cannot come, and runs up to parallel_studies x
        cpu_jobs of its seeds side by side, rather than one at a time on every core: a trial
        on the CPU uses its second core poorly (docs/speed.md, "A seeds study alone"). (Two
        studies that end in the same second can still have their seeds studies share the
        cores unevenly while both run.)"""
        studies = min(self.r.parallel_studies, len(self.running) + self.waiting + 1)
        if studies == 1 and "n_trials" in sweep:
            mine = min(sweep["n_trials"], self.r.parallel_studies * self.r.cpu_jobs)
            return mine, mine
        return self.r.cpu_jobs, self.r.cpu_jobs * studies

    def run(self, sweep: dict) -> int:
        log = None
        if self.r.parallel_studies > 1:  # interleaved progress bars are unreadable: a log per study
            path = Path(self.r.dir) / sweep["study"] / "sweep.log"
            path.parent.mkdir(parents=True, exist_ok=True)
            log = open(path, "a")
        start = time.time()
        try:
            with self.lock:
                self.waiting -= 1
                if self.stopping:
                    return 130
                mine, everyone = self.trials_at_once(sweep)
                command = sweep_command(self.r, sweep, mine)
                print(f"\n>>> {shown(['python', *command[1:]])}", file=log or sys.stdout, flush=True)
                process = subprocess.Popen(command, env=sweep_env(self.r, everyone), stdout=log,
                                           stderr=log and subprocess.STDOUT, start_new_session=True)
                self.running.add(process)
            if log:
                say(f">>> {sweep['study']}: started, output in {log.name}")
            rc = process.wait()
            with self.lock:
                self.running.discard(process)
        finally:
            if log:
                log.close()
        seconds = time.time() - start
        record_run(self.r, sweep["study"], command, seconds, rc)
        if log:
            say(f"<<< {sweep['study']}: {'done' if rc == 0 else f'exit code {rc}'} after {seconds:.0f} s")
        return rc

    def interrupt(self, signum: int) -> None:
        with self.lock:
            self.stopping = True
            for process in self.running:
                try:
                    os.killpg(process.pid, signum)
                except ProcessLookupError:  # it has just ended
                    pass


def reproduce(r: DictConfig) -> int:
    """Every grid study, then each one's seeds study as soon as the grid study is done."""
    pool, failed, futures = SweepPool(r), [], {}
    interrupt = _signals_as_interrupt()  # SIGTERM too, so that it reaches the sweeps
    try:
        with interrupt:
            futures.update(pool.submit([sweep for dataset in r.datasets for model in r.models
                                        for sweep in grid_sweeps(r, dataset, model)]))
            while futures:
                # A KeyboardInterrupt raised while Python runs a finalizer is swallowed: look
                # at the received signal every second rather than rely on the exception alone.
                done, _ = wait(futures, timeout=1.0, return_when=FIRST_COMPLETED)
                interrupt.check()
                follow_ups = []
                for future in done:
                    sweep = futures.pop(future)
                    rc = future.result()
                    if rc in INTERRUPTED:  # the sweep was stopped by a signal: stop the others too
                        raise KeyboardInterrupt
                    if rc != 0:
                        failed.append(f"study {sweep['study']}")
                    follow_up = seed_sweep(r, sweep) if sweep["stage"] == "grid" else None
                    if follow_up:
                        follow_ups.append(follow_up)
                futures.update(pool.submit(follow_ups))
    except KeyboardInterrupt:
        pool.interrupt(interrupt.received or signal.SIGINT)
        raise
    finally:
        pool.executor.shutdown(wait=True, cancel_futures=True)
    if failed:
        print("These sweeps did not finish cleanly (their trials' fail_reason says why; run the "
              "same command again to retry them):\n  " + "\n  ".join(failed), file=sys.stderr)
    return 1 if failed else 0


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="reproduce")
def main(cfg: DictConfig) -> None:
    try:
        check(cfg.reproduce)
        if cfg.reproduce.report:  # not hours of runs before a report that cannot be written
            keep_the_copy(cfg.reproduce, open_studies(cfg.reproduce.storage)[1])
        rc = reproduce(cfg.reproduce)
        if cfg.reproduce.report:
            print(f"report: {build_report(cfg.reproduce)}", flush=True)
    except UserError as exc:
        exit_with(exc)
    except KeyboardInterrupt:
        print("Interrupted; run the same command again to go on where it stopped.", file=sys.stderr)
        sys.exit(130)
    sys.exit(rc)


if __name__ == "__main__":
    main()
