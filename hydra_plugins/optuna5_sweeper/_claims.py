"""Claiming trials: what the study holds, the sweep's budgets, the next trial or grid point,
trials gone stale with their worker."""
import time
from typing import Dict, List, Optional

import optuna
from optuna.trial import FrozenTrial, TrialState

from ._heartbeat import HEARTBEAT_ATTR
from ._search_space import suggest
from ._shared import DONE, NOT_JOB_FAILURES, STOP_ATTR, _trial_point, _trial_values


class Claims:
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
        for name, dist in self.suggested.items():
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

    def _requeue(self, study: optuna.Study, trial: FrozenTrial) -> None:
        if self.grid is not None:
            study.enqueue_trial(_trial_values(trial), user_attrs={"retry_of": trial.number})
