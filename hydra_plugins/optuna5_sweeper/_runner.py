"""The sweep: open the study, claim trials, run them through Hydra's launcher, record results.

One process runs trials one after the other (or in batches of `n_jobs` when the launcher
runs jobs in parallel itself, e.g. joblib or submitit). With Hydra's basic launcher and
`n_jobs` > 1 this process becomes a supervisor that starts `n_jobs` copies of the same
command as workers, each pinned to a GPU when there are any; the workers share the study
through its storage, exactly as workers started by hand on several machines do.

Grid points go through Optuna's trial queue: the process that creates the study enqueues
every point, and a worker claims one by moving a WAITING trial to RUNNING, which the
storage does atomically; so each point runs once however many workers there are.
"""
import json
import math
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import optuna
from hydra.core.utils import JobReturn, JobStatus
from hydra.utils import get_method, instantiate
from omegaconf import DictConfig, OmegaConf
from optuna.trial import FrozenTrial, TrialState

from . import trial_context
from ._heartbeat import HEARTBEAT_ATTR, Heartbeat
from ._search_space import SearchSpace, SearchSpaceError, as_overrides, format_value, parse, suggest
from .config import CONFLICT_MESSAGE, official_plugin_installed
from .signals import ignore_signals, signals_as_interrupt
from .storage import GRID_SIZE_ATTR, masked, open_storage

WORKER_ENV = "OPTUNA5_SWEEPER_WORKER"
STARTED_ENV = "OPTUNA5_SWEEPER_STARTED"  # when the sweep its workers belong to started (epoch seconds)
NOT_JOB_FAILURES = ("stale:", "interrupted")  # fail_reason prefixes the sweeper itself writes
STOP_ATTR = "sweep_stopped"  # study attribute: {"started": ..., "reason": ...} once failures exceed the budget
SEEDING_TIMEOUT_S = 120
DONE = (TrialState.COMPLETE, TrialState.PRUNED)


class SweepError(RuntimeError):
    """A sweep that cannot start or go on; the message says why and what to change."""


def _build(key: str, node: DictConfig) -> Any:
    if str(node.get("_target_", "")).endswith("MOTPESampler"):
        raise SweepError(
            f"hydra.sweeper.{key}: motpe (MOTPESampler) was removed from Optuna in version 3; "
            "TPE handles several objectives itself. Use hydra/sweeper/sampler=tpe, with "
            "hydra.sweeper.sampler.multivariate=true for what MOTPE modelled jointly.")
    try:
        # A constraints function is given by its dotted path (nested samplers are built by
        # Hydra); passed beside a plain copy, since a typed node would turn it back into text.
        plain = OmegaConf.to_container(node, resolve=True)
        functions = {k: get_method(plain.pop(k)) for k in ("constraints_func",) if isinstance(plain.get(k), str)}
        return instantiate(plain, **functions)
    except Exception as exc:
        cause = exc.__cause__ or exc
        raise SweepError(f"hydra.sweeper.{key}: cannot build {node.get('_target_')} "
                         f"({type(cause).__name__}: {cause}); see Optuna's documentation of "
                         "its arguments.") from None


def _as_list(value: Any) -> List[Any]:
    """A config value that may be one item or a list of them, as a list."""
    return list(value) if isinstance(value, (list, tuple)) or OmegaConf.is_list(value) else [value]


def _metric_names(names: Any, objectives: int) -> Optional[List[str]]:
    if names is None:
        return None
    names = [names] if isinstance(names, str) else list(names)
    if len(names) != objectives or not all(isinstance(n, str) and n for n in names):
        raise SweepError(f"hydra.sweeper.metric_names: {names!r} is not allowed; give one name per "
                         f"direction ({objectives}), as a string or a list of strings, or null.")
    return names


def _directions(direction: Any) -> List[str]:
    names = [str(getattr(d, "name", d)).lower() for d in _as_list(direction)]
    bad = [n for n in names if n not in ("minimize", "maximize")]
    if not names or bad:
        raise SweepError(f"hydra.sweeper.direction: {direction!r} is not allowed; use minimize, "
                         "maximize, or a list of them for a multi-objective study.")
    return names


def _point_key(params: Dict[str, Any], names: Sequence[str]) -> Tuple:
    return tuple(params.get(n) for n in names)


def _trial_point(trial: FrozenTrial, names: Sequence[str]) -> Tuple:
    return _point_key(trial.params or trial.system_attrs.get("fixed_params", {}), names)


class Sweep:
    def __init__(self, settings: DictConfig, config: DictConfig, launcher: Any,
                 arguments: Sequence[str], validate: Callable[[List[List[str]]], None]):
        if official_plugin_installed():
            raise SweepError(CONFLICT_MESSAGE)
        self.settings = settings
        self.config = config
        self.launcher = launcher
        self.worker = os.environ.get(WORKER_ENV)
        if settings.get("search_space"):
            raise SweepError(
                "hydra.sweeper.search_space: the official plugin's 1.2 form of the search space "
                "(a mapping of {type, low, high, ...} per key) is not read; write each key under "
                "hydra.sweeper.params in Hydra's override syntax: type float low 0.1 high 1 as "
                "interval(0.1, 1), with log as tag(log, interval(...)), type int as "
                "int(interval(a, b)), type categorical as choice(a, b, ...), a stepped range as "
                "range(a, b, step=s).")
        try:
            self.space: SearchSpace = parse(
                OmegaConf.to_container(settings.params, resolve=True) if settings.params else None,
                arguments)
        except SearchSpaceError as exc:
            raise SweepError(str(exc)) from None
        self._check_space(validate)
        self.directions = _directions(settings.direction)
        self.metric_names = _metric_names(settings.get("metric_names"), len(self.directions))
        sampler_target = str(settings.sampler.get("_target_", ""))
        self.grid: Optional[List[Dict[str, Any]]] = None
        if sampler_target.endswith("GridSampler"):
            if settings.sampler.get("search_space"):
                raise SweepError("hydra.sweeper.sampler.search_space: give the grid as "
                                 "hydra.sweeper.params (choice(...) / range(...)) instead.")
            try:
                self.grid = self.space.grid()
            except SearchSpaceError as exc:
                raise SweepError(str(exc)) from None
            self._grid_names = list(self.space.distributions)
            self._grid_keys = {_point_key(p, self._grid_names) for p in self.grid}
        n_trials = settings.n_trials
        if n_trials is None and self.grid is None:
            raise SweepError("hydra.sweeper.n_trials: null is only allowed with the grid sampler "
                             "(it then means the whole grid); give a positive number.")
        if n_trials is not None and (not isinstance(n_trials, int) or n_trials < 1):
            raise SweepError(f"hydra.sweeper.n_trials: {n_trials!r} is not allowed; give a positive integer.")
        self.planned = len(self.grid) if n_trials is None else (
            min(n_trials, len(self.grid)) if self.grid is not None else n_trials)
        if not 0.0 <= float(settings.max_failure_rate) <= 1.0:
            raise SweepError(f"hydra.sweeper.max_failure_rate: {settings.max_failure_rate!r} "
                             "is not allowed; give a number in [0, 1].")
        self.allowed_failures = math.floor(float(settings.max_failure_rate) * self.planned)
        self.extend = get_method(settings.custom_search_space) if settings.custom_search_space else None
        self.gpus = self._gpus()
        # A worker started by a supervisor runs one trial at a time on the GPU it was given.
        self.n_jobs = 1 if self.worker is not None else self._n_jobs()
        self.storage_url = None if settings.storage is None else str(settings.storage)
        self.heartbeat_interval = float(settings.heartbeat_interval)
        self.grace_period = float(settings.grace_period if settings.grace_period is not None
                                  else 4 * self.heartbeat_interval)
        if self.heartbeat_interval <= 0 or self.grace_period <= self.heartbeat_interval:
            raise SweepError(f"hydra.sweeper.heartbeat_interval={settings.heartbeat_interval} / "
                             f"grace_period={settings.grace_period}: give an interval > 0 (seconds) "
                             "and a grace period longer than the interval (null: 4 intervals).")
        # Budgets count the trials of this sweep, over all its workers and machines: those
        # claimed since it started (a supervisor's workers share its start).
        self.started_at = float(os.environ.get(STARTED_ENV, time.time()))
        self.started = time.time()

    def _check_space(self, validate: Callable[[List[List[str]]], None]) -> None:
        """Refuse an empty space, and keys or options the app's config does not have."""
        if not self.space.distributions:
            raise SweepError(
                "hydra.sweeper.params: the search space is empty: neither hydra.sweeper.params nor "
                "the command line gives a parameter as choice(...), range(...), interval(...) or "
                "a,b. Add one, e.g. hydra.sweeper.params.x='choice(1,2)' or x=1,2 on the command line.")
        for point in self.space.probe_points():
            overrides = as_overrides(point) + self.space.fixed
            try:
                validate([overrides])
            except Exception as exc:  # Hydra's composition errors name the key or option
                reason = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
                reason = reason.split(" Config search path")[0]  # Hydra's list of search paths
                raise SweepError(f"hydra.sweeper.params / command line: the app's config cannot "
                                 f"take {' '.join(overrides)}: {reason}") from None

    # -- machine ---------------------------------------------------------------------------
    def _gpus(self) -> List[int]:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        pinned = [int(g) for g in (visible or "").split(",") if g.strip().isdigit()]
        if self.worker is not None:  # the supervisor chose this worker's GPU
            return pinned
        if self.settings.gpus is not None:
            return [int(g) for g in self.settings.gpus]
        if visible is not None:
            return pinned
        try:
            import torch

            return list(range(torch.cuda.device_count()))
        except ImportError:
            return []

    def _n_jobs(self) -> int:
        per_gpu = int(self.settings.trials_per_gpu)
        if per_gpu < 1:
            raise SweepError(f"hydra.sweeper.trials_per_gpu: {per_gpu} is not allowed; give 1 or more.")
        slots = len(self.gpus) * per_gpu
        n_jobs = self.settings.n_jobs
        if n_jobs is None:
            return max(slots, 1)
        if not isinstance(n_jobs, int) or n_jobs < 1:
            raise SweepError(f"hydra.sweeper.n_jobs: {n_jobs!r} is not allowed; give a positive integer or null.")
        if slots and n_jobs > slots:
            raise SweepError(f"hydra.sweeper.n_jobs={n_jobs} asks for more concurrent trials than the "
                             f"{len(self.gpus)} GPU(s) x trials_per_gpu={per_gpu} give ({slots}); "
                             "raise trials_per_gpu or lower n_jobs.")
        return n_jobs

    def _runs_jobs_in_process(self) -> bool:
        return type(self.launcher).__name__ == "BasicLauncher"

    # -- study -----------------------------------------------------------------------------
    def open_study(self) -> optuna.Study:
        storage = open_storage(self.storage_url)
        name = self.settings.study_name
        sampler = (optuna.samplers.RandomSampler(seed=self.settings.sampler.get("seed"))
                   if self.grid is not None else _build("sampler", self.settings.sampler))
        pruner = _build("pruner", self.settings.pruner)
        try:
            study = optuna.create_study(storage=storage, study_name=name, sampler=sampler,
                                        pruner=pruner, directions=self.directions)
            created = True
        except optuna.exceptions.DuplicatedStudyError:
            study = optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)
            created = False
        stored = [d.name.lower() for d in study.directions]
        if stored != self.directions:
            raise SweepError(f"hydra.sweeper.direction: study {name!r} in {masked(self.storage_url)} "
                             f"was created with {stored}, the config says {self.directions}; "
                             "use another study_name or the same direction.")
        if self.metric_names and study.metric_names != self.metric_names:
            with warnings.catch_warnings():  # experimental since Optuna 3.2, and still so in 5
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                study.set_metric_names(self.metric_names)
        if self.grid is not None:
            self._seed_grid(study, created)
        trial_context.register_local_study(study)
        return study

    def _seed_grid(self, study: optuna.Study, created: bool) -> None:
        if not created:  # the creator may still be enqueueing: wait for its mark
            deadline = time.time() + SEEDING_TIMEOUT_S
            while GRID_SIZE_ATTR not in study.user_attrs and time.time() < deadline:
                time.sleep(1)
        live = {_trial_point(t, self._grid_names) for t in study.get_trials(deepcopy=False)
                if t.state != TrialState.FAIL}
        for point in self.grid:  # new points, and points whose every trial failed
            if _point_key(point, self._grid_names) not in live:
                study.enqueue_trial(point)
        study.set_user_attr(GRID_SIZE_ATTR, len(self.grid))

    # -- claims ----------------------------------------------------------------------------
    def _in_grid(self, trial: FrozenTrial) -> bool:
        """A grid study run again with a smaller or other grid counts and runs its own points only."""
        if self.grid is None:
            return True
        return _trial_point(trial, self._grid_names) in self._grid_keys

    def _counts(self, study: optuna.Study) -> Dict[TrialState, int]:
        counts = {s: 0 for s in TrialState}
        for t in study.get_trials(deepcopy=False):
            if self._in_grid(t):
                counts[t.state] += 1
        return counts

    def _failed_in_this_sweep(self, study: optuna.Study) -> List[FrozenTrial]:
        """The trials of this sweep whose job failed (not those interrupted or gone stale with
        their worker, whose points are queued again)."""
        return [t for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
                if self._in_grid(t) and t.datetime_start is not None
                and t.datetime_start.timestamp() >= self.started_at
                and not str(t.user_attrs.get("fail_reason", "")).startswith(NOT_JOB_FAILURES)]

    def _stop_reason(self, study: optuna.Study) -> Optional[str]:
        """Why this sweep must stop claiming, if it must: its failures (every worker's, on
        every machine) exceed the budget. The first worker to see it says so in the study,
        and every worker reads it there before claiming."""
        stopped = study._storage.get_study_user_attrs(study._study_id).get(STOP_ATTR)
        if stopped and stopped["started"] >= self.started_at:
            return stopped["reason"]
        failed = self._failed_in_this_sweep(study)
        if len(failed) <= self.allowed_failures:
            return None
        last = max(failed, key=lambda t: t.number)
        reason = (f"{len(failed)} trial(s) failed, more than hydra.sweeper.max_failure_rate="
                  f"{self.settings.max_failure_rate} of {self.planned} planned allows "
                  f"({self.allowed_failures}); the last: trial {last.number}: "
                  + str(last.user_attrs.get("fail_reason", "?")).splitlines()[0][:300]
                  + ". Every reason is in the trials' fail_reason attribute. Raise max_failure_rate "
                  "to go on past failures.")
        study.set_user_attr(STOP_ATTR, {"started": self.started_at, "reason": reason})
        return reason

    def _claim(self, study: optuna.Study) -> Optional[optuna.Trial]:
        counts = self._counts(study)
        taken = counts[TrialState.COMPLETE] + counts[TrialState.PRUNED] + counts[TrialState.RUNNING]
        if self.grid is None:
            # A search's failed trials do not count as done (the next sweep retries them),
            # but they use up this sweep's share: it never starts more trials than planned.
            # A grid is bounded by its queue instead.
            taken += len(self._failed_in_this_sweep(study))
        if taken >= self.planned:
            return None
        if self.grid is None:
            trial = study.ask()
        else:
            trial = self._claim_grid_point(study)
            if trial is None:
                return None
        for name, dist in self.space.distributions.items():
            suggest(trial, name, dist)
        if self.extend is not None:
            self.extend(self.config, trial)
        return trial

    def _claim_grid_point(self, study: optuna.Study) -> Optional[optuna.Trial]:
        storage = study._storage
        names = self._grid_names
        # Points put back after an interrupted or dead trial go first: a study bounded by
        # n_trials (the seeds of a Table 1 row) would otherwise move on to the next point
        # and leave them queued for ever.
        queue = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
        for waiting in sorted(queue, key=lambda t: ("retry_of" not in t.user_attrs, t.number)):
            if not self._in_grid(waiting):
                continue  # queued by an earlier run over another grid
            try:
                if not storage.set_trial_state_values(waiting._trial_id, state=TrialState.RUNNING):
                    continue  # another worker took it first
            except optuna.exceptions.UpdateFinishedTrialError:
                continue
            point = _trial_point(waiting, names)
            twin = next((t for t in study.get_trials(deepcopy=False, states=(*DONE, TrialState.RUNNING))
                         if t.number < waiting.number and _trial_point(t, names) == point), None)
            trial = optuna.Trial(study, waiting._trial_id)
            if twin is None:
                return trial
            # Two workers enqueued the same point at once (a resume race): the older one runs it.
            trial.set_user_attr("duplicate_of", twin.number)
            study.tell(trial, state=TrialState.FAIL)
        return None

    # -- one batch ------------------------------------------------------------------------
    def _job_env(self, trial: optuna.Trial, slot: int) -> Dict[str, str]:
        """What the job needs to find its trial (trial_context), and its GPU."""
        env = {trial_context.STUDY_ENV: trial.study.study_name,
               trial_context.TRIAL_ENV: str(trial._trial_id),
               trial_context.PRUNER_ENV: json.dumps(OmegaConf.to_container(self.settings.pruner, resolve=True))}
        if self.gpus and not self._runs_jobs_in_process():
            gpu = self.gpus[slot % len(self.gpus)]
            env["CUDA_VISIBLE_DEVICES"] = str(gpu)
            trial.set_user_attr("gpu", gpu)
        elif self.gpus and self.worker is not None:
            trial.set_user_attr("gpu", self.gpus[0])
        elif self.worker is not None:
            trial.set_user_attr("omp_threads", os.environ.get("OMP_NUM_THREADS"))
        return env

    def _overrides(self, trial: optuna.Trial, slot: int) -> List[str]:
        params = as_overrides(trial.params)
        trial.set_user_attr("overrides", params + self.space.fixed)
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        if self._runs_jobs_in_process():  # the environment is set around the launch instead
            return params + self.space.fixed
        # Launchers that run jobs elsewhere get it through Hydra, which sets it in the job.
        # The storage URL is not among it (it may hold a password and would be logged): the
        # job reads it from its own copy of hydra.sweeper.storage (trial_context).
        env = {k: format_value(v) for k, v in self._job_env(trial, slot).items()}
        return params + self.space.fixed + [f"++hydra.job.env_set.{k}={v}" for k, v in env.items()]

    def _record(self, study: optuna.Study, trial: optuna.Trial, ret: JobReturn) -> None:
        run_dir = None
        if ret.hydra_cfg is not None:
            run_dir = ret.hydra_cfg.hydra.runtime.output_dir
            trial.set_user_attr("run_dir", str(run_dir))
        values, state, reason = None, TrialState.COMPLETE, None
        try:
            if ret.status == JobStatus.FAILED:  # what the job raised (return_value would log it)
                raise ret._return_value
            values = self._values(ret.return_value)
        except optuna.TrialPruned as exc:
            state, reason = TrialState.PRUNED, str(exc) or "pruned"
        except Exception as exc:
            state = TrialState.FAIL
            reason = f"{type(exc).__name__}: {exc}".strip()
            trial.set_user_attr("fail_reason", reason[:2000])
            trial.set_user_attr("traceback", "".join(traceback.format_exception(exc))[-4000:])
        try:
            study.tell(trial, values=values, state=state)
        except optuna.exceptions.UpdateFinishedTrialError:  # e.g. failed as stale by another worker
            print(f"trial {trial.number}: already finished elsewhere; result not recorded", flush=True)
            return
        self._progress(study, trial, values, state, reason)

    def _values(self, value: Any) -> List[float]:
        raw = _as_list(value)
        if len(raw) != len(self.directions):
            raise ValueError(f"the task returned {value!r}; {len(self.directions)} value(s) expected, "
                             f"one per hydra.sweeper.direction")
        values = [float(v) for v in raw]
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"the task returned a non-finite objective {values}")
        return values

    # -- output ----------------------------------------------------------------------------
    def _progress(self, study: optuna.Study, trial: optuna.Trial, values, state, reason) -> None:
        counts = self._counts(study)
        left = max(self.planned - counts[TrialState.COMPLETE] - counts[TrialState.PRUNED], 0)
        params = " ".join(as_overrides(trial.params))
        if state == TrialState.COMPLETE:
            outcome = " ".join(f"{v:.4f}" for v in values)
        elif state == TrialState.PRUNED:
            outcome = f"pruned ({reason})"
        else:
            outcome = f"FAIL ({reason.splitlines()[0][:120]})"
        prefix = f"[worker {self.worker}] " if self.worker is not None else ""
        print(f"{prefix}trial {trial.number:>4} | {params} | {outcome} | {self._best_text(study, counts)} | "
              f"{left} left, {time.time() - self.started:.0f} s", flush=True)

    def _best_text(self, study: optuna.Study, counts: Dict[TrialState, int]) -> str:
        if not counts[TrialState.COMPLETE]:
            return "best -"
        if len(self.directions) == 1:
            return f"best {study.best_value:.4f} (#{study.best_trial.number})"
        return f"pareto front {len(study.best_trials)} trial(s)"

    def summary(self, study: optuna.Study) -> None:
        counts = self._counts(study)
        states = ", ".join(f"{counts[s]} {s.name}" for s in TrialState if counts[s])
        print(f"study {study.study_name} ({masked(self.storage_url)}): {states or 'no trials'}", flush=True)
        if not counts[TrialState.COMPLETE]:
            return
        # the official plugin's layout (name: optuna), which tools read; the study's name beside it
        results: Dict[str, Any] = {"name": "optuna", "study_name": study.study_name}
        if study.metric_names:
            results["metric_names"] = list(study.metric_names)
        if len(self.directions) == 1:
            best = study.best_trial
            label = f"best {study.metric_names[0]}" if study.metric_names else "best value"
            print(f"{label} {best.value:.4f} (trial {best.number}): "
                  + " ".join(as_overrides(best.params)), flush=True)
            results.update(best_params=dict(best.params), best_value=best.value)
        else:
            front = study.best_trials
            print(f"pareto front ({len(front)} trials):", flush=True)
            for t in front:
                print(f"  trial {t.number}: values {t.values} "
                      + " ".join(as_overrides(t.params)), flush=True)
            results["solutions"] = [{"params": dict(t.params), "values": list(t.values)} for t in front]
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(OmegaConf.create(results), sweep_dir / "optimization_results.yaml")

    # -- the loops ------------------------------------------------------------------------
    def run(self) -> optuna.Study:
        if self.n_jobs > 1 and self._runs_jobs_in_process() and self.worker is None:
            return self._supervise()
        study = self.open_study()
        counts = self._counts(study)
        if self._grid_done(study, counts):
            return study
        done = counts[TrialState.COMPLETE] + counts[TrialState.PRUNED]
        if self.worker is None:
            print(f"study {study.study_name} in {masked(self.storage_url)}: {done} of {self.planned} "
                  f"trials finished, {counts[TrialState.RUNNING]} running", flush=True)
        batch_size = 1 if self._runs_jobs_in_process() else self.n_jobs
        waiting_said, stop = False, None
        with signals_as_interrupt() as interrupt:
            while True:
                interrupt.check()
                self._fail_stale(study)
                stop = self._stop_reason(study)
                if stop is not None:
                    break
                if self._launch(study, batch_size, interrupt):
                    continue
                # Nothing to claim. Trials running elsewhere may still fail or go stale
                # (their worker died): wait for them, to retry their points.
                running = self._counts(study)[TrialState.RUNNING]
                if not running:
                    break
                if not waiting_said:
                    print(f"waiting for {running} trial(s) running elsewhere (retried here if "
                          f"no heartbeat for {self.grace_period} s)", flush=True)
                    waiting_said = True
                time.sleep(min(self.heartbeat_interval, 5))
        if stop is not None:
            raise SweepError(stop)
        if self.worker is None:
            self.summary(study)
        return study

    def _grid_done(self, study: optuna.Study, counts: Dict[TrialState, int]) -> bool:
        done = counts[TrialState.COMPLETE] + counts[TrialState.PRUNED]
        if self.grid is None or done < self.planned:
            return False
        if self.worker is None:
            print(f"study {study.study_name}: the grid is complete ({done} of {self.planned} points "
                  "finished); nothing to run.", flush=True)
            self.summary(study)
        return True

    def _fail_stale(self, study: optuna.Study) -> None:
        """Fail RUNNING trials whose heartbeat stopped (their worker died) and re-queue them.

        Optuna's own heartbeat covers RDB storages only; this one, a trial system attribute
        renewed every heartbeat_interval, works on every storage, the journal file included.
        """
        now = time.time()
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            last = t.system_attrs.get(HEARTBEAT_ATTR)
            if last is None:
                last = t.datetime_start.timestamp() if t.datetime_start else now
            if now - last <= self.grace_period:
                continue
            try:
                study._storage.set_trial_user_attr(
                    t._trial_id, "fail_reason", f"stale: no heartbeat for {now - last:.0f} s (its worker died?)")
                if not study._storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL):
                    continue
            except optuna.exceptions.UpdateFinishedTrialError:
                continue  # another worker got there first
            self._requeue(study, t)
            print(f"trial {t.number} went stale (no heartbeat for {now - last:.0f} s); marked FAIL"
                  + (" and its grid point queued again" if self.grid is not None else ""), flush=True)

    def _requeue(self, study: optuna.Study, trial: Any) -> None:
        if self.grid is not None:
            study.enqueue_trial(dict(trial.params), user_attrs={"retry_of": trial.number})

    def _launch(self, study: optuna.Study, count: int, interrupt: "signals_as_interrupt") -> int:
        """Claim up to `count` trials and run them; the number claimed (0: nothing to claim).

        From its claim on, a trial is RUNNING in the storage: a signal must not land between
        the claim and the code that records an interrupted trial, or the trial would stay
        RUNNING until it goes stale. So signals wait while trials are claimed, and are raised
        inside the block that records them."""
        trials: List[optuna.Trial] = []
        heartbeat = None
        try:
            # The attributes written right after the claim are storage writes too: a signal
            # inside a journal file's lock leaves the lock half released (seen: the next write
            # failed on the lock's missing rename file, and the trial stayed RUNNING).
            with interrupt.deferred():
                while len(trials) < count:
                    trial = self._claim(study)
                    if trial is None:
                        break
                    trials.append(trial)
                if trials:
                    heartbeat = Heartbeat(study._storage, [t._trial_id for t in trials], self.heartbeat_interval)
                    overrides = [self._overrides(t, slot) for slot, t in enumerate(trials)]
            interrupt.check()
            if not trials:
                return 0
            # Job numbers are trial numbers, so a run directory keeps its trial's number.
            returns: List[JobReturn] = []
            start = 0
            while start < len(trials):
                end = start + 1
                while end < len(trials) and trials[end].number == trials[end - 1].number + 1:
                    end += 1
                env = self._job_env(trials[start], 0) if self._runs_jobs_in_process() else {}
                with _environ(env):
                    returns += self.launcher.launch(overrides[start:end], initial_job_idx=trials[start].number)
                start = end
        except BaseException as exc:  # Ctrl-C, SIGTERM, a launcher that died: nothing is lost
            ignore_signals()  # a second Ctrl-C must not cut the bookkeeping short
            if heartbeat is not None:
                heartbeat.stop()
            for trial in trials:
                self._interrupted(study, trial, exc)
            raise
        heartbeat.stop()
        with interrupt.deferred():  # recorded whole; a signal meanwhile stops the next claim
            for trial, ret in zip(trials, returns):
                self._record(study, trial, ret)
        return len(trials)

    def _interrupted(self, study: optuna.Study, trial: optuna.Trial, exc: BaseException) -> None:
        if study._storage.get_trial(trial._trial_id).state != TrialState.RUNNING:
            return
        trial.set_user_attr("fail_reason", f"interrupted ({type(exc).__name__})")
        study.tell(trial, state=TrialState.FAIL)
        self._requeue(study, trial)  # the point goes back to the queue for the next run or worker
        print(f"trial {trial.number} interrupted; marked FAIL"
              + (" and its grid point queued again" if self.grid is not None else ""), flush=True)

    def _check_relaunchable(self, command: List[str]) -> None:
        """Workers run this process's command line again, which starts this sweep only if the
        sweep came from it: Hydra's multirun flag and every override of the sweep are on it.
        Started in-process by another program (a test harness, a notebook), the command line
        is that program's, and each worker would run it instead."""
        overrides = [o for o in (*self.config.hydra.overrides.hydra, *self.config.hydra.overrides.task)
                     if o != "hydra.mode=MULTIRUN"]  # what Hydra adds for -m itself
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


class _environ:
    """Set environment variables for the duration of a block, then restore them."""

    def __init__(self, env: Dict[str, str]):
        self.env = env

    def __enter__(self):
        self.saved = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)

    def __exit__(self, *exc):
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        return False


