"""What the sweep's parts share: its error, the names it keeps in the environment and the
study, and a grid point's key."""
from typing import Any, Dict, Sequence, Tuple

from optuna.trial import FrozenTrial, TrialState

WORKER_ENV = "OPTUNA5_SWEEPER_WORKER"
STARTED_ENV = "OPTUNA5_SWEEPER_STARTED"  # when the sweep its workers belong to started (epoch seconds)
NOT_JOB_FAILURES = ("stale:", "interrupted")  # fail_reason prefixes the sweeper itself writes
STOP_ATTR = "sweep_stopped"  # study attribute: {"started": ..., "reason": ...} once failures exceed the budget
SEEDING_TIMEOUT_S = 120
DONE = (TrialState.COMPLETE, TrialState.PRUNED)


class SweepError(RuntimeError):
    """A sweep that cannot start or go on; the message says why and what to change."""


def _point_key(params: Dict[str, Any], names: Sequence[str]) -> Tuple:
    return tuple(params.get(n) for n in names)


def _trial_values(trial: FrozenTrial) -> Dict[str, Any]:
    """The values a trial runs: its queued values, with what it has suggested so far. A
    claimed trial suggests its parameters one storage write at a time; read between two (or
    after its worker died between claim and suggestion), its params alone name another point
    or none (seen: a second worker then queued the point again; a retry queued empty)."""
    return {**trial.system_attrs.get("fixed_params", {}), **trial.params}


def _trial_point(trial: FrozenTrial, names: Sequence[str]) -> Tuple:
    """The grid point a trial runs (`_trial_values`)."""
    return _point_key(_trial_values(trial), names)
