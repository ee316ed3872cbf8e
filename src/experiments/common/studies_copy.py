"""A report's copy of the studies it read, kept beside it as an Optuna journal file, so that
its numbers can be checked and rebuilt from the report's folder alone."""
import os
from pathlib import Path

import optuna
from omegaconf import DictConfig

from hydra_plugins.optuna5_sweeper.storage import is_journal_file, masked, open_storage
from src.runtime.errors import UserError
from src.trials.records import open_studies

STUDIES_COPY = "studies.log"


def copy_is_the_storage(r: DictConfig) -> bool:
    return is_journal_file(r.storage) and Path(r.storage).resolve() == (Path(r.out) / STUDIES_COPY).resolve()


def reported_studies(r: DictConfig, section: str):
    """The storage and study names a report reads (the journal file read once), refused in one
    paragraph where `{section}.storage` does not exist, and checked by keep_the_copy before
    anything is written. `section` is the experiment's config section and entry point."""
    storage, names = open_studies(r.storage)
    if storage is None:
        raise UserError(f"Config key '{section}.storage': {r.storage} does not exist, so there is nothing to "
                        f"report (and the report in {section}.out is left as it is). Run python -m src.{section} "
                        f"first, or point {section}.storage at its studies.")
    keep_the_copy(r, names, section)
    return storage, names


def keep_the_copy(r: DictConfig, names: list[str], section: str) -> None:
    """Refuse to write over a copy of studies (an earlier report's) that the storage lacks:
    checked before anything is written, and by src.reproduce before anything runs."""
    path = Path(r.out) / STUDIES_COPY
    if not path.is_file() or copy_is_the_storage(r):
        return
    lacking = sorted(set(open_studies(str(path))[1]) - set(names))
    if lacking:
        raise UserError(
            f"{path} holds {len(lacking)} studies that {section}.storage ({masked(str(r.storage))}) lacks "
            f"({', '.join(lacking[:3])}{', ...' if len(lacking) > 3 else ''}), and writing the report "
            "there would replace them; nothing was written. To add runs to that report, run and report "
            f"with {section}.storage={path}; to write this one apart, set {section}.out to another folder.")


def copy_studies(r: DictConfig, storage, names: list[str]) -> Path:
    """Every study the report read, copied whole into a journal file beside it, so that the
    numbers can be checked and rebuilt from the report's folder alone, after the storage
    and the machine that ran the trials are gone."""
    path = Path(r.out) / STUDIES_COPY
    if copy_is_the_storage(r):
        return path  # rebuilding from the copy itself
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    copy, verbosity = open_storage(str(partial)), optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # not a line per copied study
    try:
        for name in sorted(names):
            optuna.copy_study(from_study_name=name, from_storage=storage, to_storage=copy)
    finally:
        optuna.logging.set_verbosity(verbosity)
    os.replace(partial, path)
    return path
