"""Checks made before Hydra creates a run directory, so that bad input leaves nothing behind.

Registered as a Hydra callback in conf/train.yaml. A failed check prints one paragraph
and exits with code 2 (src.runtime.errors.exit_with); Hydra's own error report (a traceback) is
not reached.
"""
import os
from pathlib import Path

from hydra import compose
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from src.runtime.config_check import check_config, check_device, check_sweep_job
from src.runtime.errors import UserError, exit_with


def check_writable(folder: Path, key: str) -> None:
    """Check the folder, or the nearest one above it that exists, without creating anything."""
    existing = folder.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        what = "is not a folder" if not existing.is_dir() else "is not writable"
        raise UserError(
            f"{key}={folder}: cannot write there: {existing} {what}. Run output goes to that "
            f"folder: point {key} at a folder you can write to, e.g. `{key}=/tmp/vae_runs`, "
            f"or run from a writable copy of the project.")


class Preflight(Callback):
    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        try:
            check_config(config)
            check_device(config)
            check_writable(Path(config.hydra.run.dir), "hydra.run.dir")
        except UserError as exc:
            exit_with(exc)

    def on_multirun_start(self, config: DictConfig, config_name: str | None = None, **kwargs) -> None:
        try:
            check_writable(Path(config.hydra.sweep.dir), "hydra.sweep.dir")
            check_sweep_job(config)
            check_device(config)
            if config.hydra.sweeper._target_ == BASIC_SWEEPER:
                check_basic_sweep(config, config_name)
        except UserError as exc:
            exit_with(exc)


BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


def check_basic_sweep(config: DictConfig, config_name: str | None) -> None:
    """Check every job of a `-m a=1,2` sweep before the first one starts.

    A failing job of Hydra's basic sweeper ends the sweep with a traceback, after the jobs
    before it have run. (The Optuna sweeper instead records a bad point as a failed trial,
    with the reason, and goes on: there each job checks its own config.)"""
    overrides = OverridesParser.create().parse_overrides(list(config.hydra.overrides.task))
    for batch in BasicSweeper.split_arguments(overrides, None):
        for job in batch:
            try:
                job_config = compose(config_name=config_name, overrides=list(job))
                check_config(job_config)
                check_sweep_job(job_config)
                check_device(job_config)
            except UserError as exc:
                raise UserError(f"In the job `{' '.join(job)}` of this sweep: {exc}") from None
