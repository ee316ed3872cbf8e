"""Studies in one Optuna storage read back: their finished runs as records.

Every finished trial carries its scores and settings as user attributes
(src/trials/reporting.py); a record is those attributes plus the study and trial number,
so that every number of a report traces back to one trial.
"""
from pathlib import Path

import optuna
from optuna.trial import TrialState

from hydra_plugins.optuna5_sweeper.storage import is_journal_file, open_storage

def open_studies(storage_url: str) -> tuple[optuna.storages.BaseStorage, list[str]]:
    if is_journal_file(storage_url) and not Path(storage_url).exists():
        return None, []
    storage = open_storage(storage_url)
    return storage, [s.study_name for s in optuna.get_all_study_summaries(storage)]


def finished_runs(storage_url: str) -> list[dict]:
    """Every COMPLETE trial of every study in the storage, as a flat record."""
    return records_of(*open_studies(storage_url))


def records_of(storage: optuna.storages.BaseStorage | None, names: list[str]) -> list[dict]:
    records = []
    for name in names:
        study = optuna.load_study(study_name=name, storage=storage)
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            if "dataset" in t.user_attrs:  # trials of runs that record their settings
                records.append({"study": name, "trial": t.number, **t.user_attrs})
    return records


def select(records: list[dict], **match) -> list[dict]:
    return [r for r in records if all(r.get(k) == v for k, v in match.items())]


def best_run(runs: list[dict]) -> dict:
    """The run with the highest validation accuracy; on a tie, the earlier trial."""
    return max(runs, key=lambda r: (r["val_acc"], -r["trial"]))
