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
import socket
import time
import traceback
import warnings
from typing import Any, Callable, Dict, List, Optional, Sequence

import optuna
from hydra.core.utils import JobReturn, JobStatus
from hydra.utils import get_method, instantiate
from omegaconf import DictConfig, OmegaConf
from optuna.trial import TrialState

from . import trial_context
from ._claims import Claims
from ._heartbeat import Heartbeat
from ._output import Output
from ._search_space import SearchSpace, SearchSpaceError, as_overrides, as_stored, format_value, parse
from ._shared import SEEDING_TIMEOUT_S, STARTED_ENV, WORKER_ENV, SweepError, _point_key, _trial_point
from ._supervisor import Supervisor
from .config import CONFLICT_MESSAGE, official_plugin_installed
from .signals import ignore_signals, signals_as_interrupt
from .storage import GRID_SIZE_ATTR, masked, open_storage

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


class Sweep(Claims, Output, Supervisor):
    """One sweep's settings and its loop. What it claims (_claims.py), what it prints and
    writes (_output.py) and how it supervises workers (_supervisor.py) are mixed in."""

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
        stored = {}  # each parameter's distribution as the study's trials hold it
        for t in study.get_trials(deepcopy=False):
            for key, dist in t.distributions.items():
                stored.setdefault(key, dist)
        try:
            self.suggested = as_stored(self.space, stored, self.grid is not None,
                                       f"study {name!r} in {masked(self.storage_url)}")
        except SearchSpaceError as exc:
            raise SweepError(str(exc)) from None
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
        frozen = study._storage.get_trial(trial._trial_id)
        if frozen.state != TrialState.RUNNING:
            return
        trial.set_user_attr("fail_reason", f"interrupted ({type(exc).__name__})")
        study.tell(trial, state=TrialState.FAIL)
        self._requeue(study, frozen)  # the point goes back to the queue for the next run or worker
        print(f"trial {trial.number} interrupted; marked FAIL"
              + (" and its grid point queued again" if self.grid is not None else ""), flush=True)

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


