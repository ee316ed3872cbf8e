"""The Optuna trial a job runs for, seen from inside the job.

The sweeper gives each job environment variables naming its study, trial and pruner
(through `hydra.job.env_set` when the launcher runs the job in another process). A job in
the sweeper's own process reaches the study through `_LOCAL_STUDIES`; one elsewhere opens
the storage its own `hydra.sweeper.storage` names, so that no URL (nor password) is logged. `current_trial()` turns them back into an `optuna.Trial`, through which the app
reports per-epoch values for pruning (`trial.report`, `trial.should_prune`) and records
results (`trial.set_user_attr`).
Outside a sweep it returns None.
"""
import json
import os
from typing import Any, Dict, Optional

STUDY_ENV = "OPTUNA5_SWEEPER_STUDY"
TRIAL_ENV = "OPTUNA5_SWEEPER_TRIAL_ID"
PRUNER_ENV = "OPTUNA5_SWEEPER_PRUNER"  # the pruner's config as JSON, for jobs in other processes

# Studies of sweeps running in this process, by name: jobs launched in-process reuse the
# sweeper's storage connection, and this is the only way to an in-memory study.
_LOCAL_STUDIES: Dict[str, Any] = {}


def register_local_study(study: Any) -> None:
    _LOCAL_STUDIES[study.study_name] = study


def _configured_storage() -> Optional[str]:
    """hydra.sweeper.storage as this job's config resolves it (interpolations included)."""
    from hydra.core.hydra_config import HydraConfig

    try:
        storage = HydraConfig.get().sweeper.get("storage")
    except ValueError:  # not inside a Hydra job
        return None
    return None if storage is None else str(storage)


def current_trial() -> Optional[Any]:
    """The running trial as an `optuna.Trial`, or None outside an Optuna sweep."""
    trial_id = os.environ.get(TRIAL_ENV)
    study_name = os.environ.get(STUDY_ENV)
    if not trial_id or not study_name:
        return None
    import optuna

    study = _LOCAL_STUDIES.get(study_name)
    if study is None:
        storage = _configured_storage()
        if not storage:
            return None  # an in-memory study of another process: out of reach
        pruner = os.environ.get(PRUNER_ENV)
        if pruner:
            from hydra.utils import instantiate

            pruner = instantiate(json.loads(pruner))
        from .storage import open_storage  # the sweeper's reading of the storage string

        study = optuna.load_study(study_name=study_name, storage=open_storage(storage),
                                  pruner=pruner or None)
    return optuna.Trial(study, int(trial_id))
