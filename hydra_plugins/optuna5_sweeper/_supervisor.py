"""With Hydra's basic launcher and n_jobs > 1: this process supervises n_jobs copies of its
own command line, which share the study as workers."""
import os
import shlex
import signal
import subprocess
import sys
import time
from typing import List

import optuna
from omegaconf import OmegaConf

from ._shared import STARTED_ENV, WORKER_ENV, SweepError
from .signals import ignore_signals, signals_as_interrupt
from .storage import masked


class Supervisor:
    def _check_relaunchable(self, command: List[str]) -> None:
        """Workers run this process's command line again, which starts this sweep only if the
        sweep came from it: Hydra's multirun flag and every override of the sweep are on it.
        Started in-process by another program (a test harness, a notebook), the command line
        is that program's, and each worker would run it instead."""
        given = self.config.hydra.overrides  # as typed: an override such as storage=${oc.env:X} unresolved
        overrides = [o for o in OmegaConf.to_container(given.hydra, resolve=False) + OmegaConf.to_container(
                     given.task, resolve=False) if o != "hydra.mode=MULTIRUN"]  # what Hydra adds for -m itself
        argv = sys.argv[1:]
        if any(a in ("-m", "--multirun") for a in argv) and all(o in argv for o in overrides):
            return
        raise SweepError(
            f"hydra.sweeper.n_jobs={self.n_jobs} starts its workers by running this process's command "
            f"line again ({shlex.join(command)}), but this sweep was not started from it: it was "
            "started in-process by another program (a test harness, a notebook, a script calling "
            "Hydra), which each worker would run instead. Start the sweep from its own command line "
            "(python <app> -m ...), run it with n_jobs=1, start workers by hand (the same command "
            "in several shells, one storage), or use a launcher that runs jobs elsewhere "
            "(hydra/launcher=joblib or submitit_local).")

    def _supervise(self) -> optuna.Study:
        if self.storage_url is None or self.storage_url.startswith("sqlite:"):
            raise SweepError(
                f"hydra.sweeper.n_jobs={self.n_jobs} starts {self.n_jobs} worker processes, which "
                f"share the study through its storage, but storage is {masked(self.storage_url)}: "
                "in memory is not shared, and SQLite cannot hand a queued trial to exactly one "
                "of several processes. Use a journal file (e.g. outputs/study.log) or a "
                "PostgreSQL URL.")
        study = self.open_study()  # create the study and its grid once, before the workers
        if self._grid_done(study, self._counts(study)):
            return study
        main = sys.modules["__main__"]
        spec = getattr(main, "__spec__", None)
        command = ([sys.executable, "-m", spec.name] if spec is not None and spec.name != "__main__"
                   else [sys.executable, sys.argv[0]]) + sys.argv[1:]
        self._check_relaunchable(command)
        workers = []
        for i in range(self.n_jobs):
            env = {**os.environ, WORKER_ENV: str(i), STARTED_ENV: repr(self.started_at)}
            if self.gpus:
                env["CUDA_VISIBLE_DEVICES"] = str(self.gpus[i % len(self.gpus)])
            else:  # the cores shared out: n_jobs workers of all-core thread pools spin against each other
                env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // self.n_jobs)))
            workers.append(subprocess.Popen(command, env=env))
        gpus = f", GPUs {[self.gpus[i % len(self.gpus)] for i in range(self.n_jobs)]}" if self.gpus else ""
        print(f"study {study.study_name}: {self.n_jobs} workers started{gpus}", flush=True)
        interrupt = signals_as_interrupt()
        try:
            with interrupt:
                codes = [w.wait() for w in workers]
        except BaseException:
            # Ctrl-C in a terminal reaches the workers too: give them time to record their
            # trials. SIGTERM is passed on.
            ignore_signals()
            grace = 60 if interrupt.received == signal.SIGINT else 0
            deadline = time.time() + grace
            while time.time() < deadline and any(w.poll() is None for w in workers):
                time.sleep(0.2)
            for w in workers:
                if w.poll() is None:
                    w.send_signal(signal.SIGTERM)
            for w in workers:
                w.wait()
            raise
        self.summary(study)
        stop = self._stop_reason(study)
        if stop is not None:  # the paragraph every worker gave
            raise SweepError(stop)
        failed = [(i, c) for i, c in enumerate(codes) if c != 0]
        if failed:
            raise SweepError("worker(s) " + ", ".join(f"{i} (exit code {c})" for i, c in failed)
                             + " stopped with an error; their output above says why. The study "
                             "keeps what they finished: run the same command again to go on.")
        return study
