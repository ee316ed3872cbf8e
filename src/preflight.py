"""Checks made before Hydra creates a run directory, so that bad input leaves nothing behind.

Registered as a Hydra callback in conf/train.yaml. A failed check prints one paragraph
and exits with code 2; Hydra's own error report (a traceback) is not reached.
"""
import os
import sys
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from src.config_check import check_config
from src.errors import UserError


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


def refuse(exc: UserError) -> None:
    print(f"error: {exc}", file=sys.stderr, flush=True)
    sys.exit(2)


class Preflight(Callback):
    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        try:
            check_config(config)
            check_writable(Path(config.hydra.run.dir), "hydra.run.dir")
        except UserError as exc:
            refuse(exc)

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        # Each job's config is checked by the job (a sweep records a bad point as a failed trial).
        try:
            check_writable(Path(config.hydra.sweep.dir), "hydra.sweep.dir")
        except UserError as exc:
            refuse(exc)
