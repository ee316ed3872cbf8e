"""Running the sweeps of an experiment: `python -m src.train -m sweep=<file>` processes,
`parallel_studies` at once, each study resumed where it stopped.

A sweep is a dict: `study` (its name), `sweep` (the sweeps/ file), `fixed` (key=value set
for every trial), `params` (what is swept: key -> values), optionally `n_trials`, `epochs` (else the settings'),
`overrides` (more command-line arguments). The
settings `r` are an experiment's (conf/reproduce.yaml for Table 1): storage, dir, epochs,
limit, parallel_studies, cpu_jobs, trials_per_gpu. Every GPU found runs trials
(trials_per_gpu each); without one, the CPU does (`cpu_jobs` trials at once per study).
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
from typing import Callable

import optuna
import torch
from omegaconf import DictConfig
from optuna.trial import TrialState

from hydra_plugins.optuna5_sweeper.signals import signals_as_interrupt
from hydra_plugins.optuna5_sweeper.storage import GRID_SIZE_ATTR, masked
from src.runtime.provenance import git_commit
from src.trials.records import open_studies

# The sweeps read the storage URL from the environment: a password in it then reaches
# neither their command line nor the overrides Hydra saves in every run directory.
STORAGE_ENV = "REPRODUCE_STORAGE"
INTERRUPTED = (130, -signal.SIGINT, -signal.SIGTERM)  # a sweep's exit codes when it was stopped


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
    args = [sys.executable, "-m", "src.train", "-m", f"sweep={sweep['sweep']}",
            f"epochs={sweep['epochs'] if 'epochs' in sweep else r.epochs}", f"hydra.sweeper.study_name={sweep['study']}",
            f"hydra.sweeper.storage=${{oc.env:{STORAGE_ENV}}}", f"hydra.sweep.dir={Path(r.dir) / sweep['study']}"]
    args += sweep.get("overrides", [])
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


def run_studies(r: DictConfig, first: list[dict], follow_up: Callable[[dict], dict | None]) -> int:
    """Every sweep of `first`, and `follow_up(sweep)` of each as soon as it is done (e.g. a
    grid study's seeds study); 0 when every sweep finished cleanly, else 1."""
    pool, failed, futures = SweepPool(r), [], {}
    interrupt = signals_as_interrupt()  # SIGTERM too, so that it reaches the sweeps
    try:
        with interrupt:
            futures.update(pool.submit(first))
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
                    after = follow_up(sweep)
                    if after:
                        follow_ups.append(after)
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
