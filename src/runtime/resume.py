"""`python -m src.train resume=<run dir>`: continue a killed run in its own directory.

The command line is rewritten before Hydra composes anything: the run's own overrides
(from its .hydra/overrides.yaml) come back, and its directory becomes hydra.run.dir, so the
config is composed exactly as the first time and every path in it points at that directory.
Training then restarts from checkpoints/last.ckpt, which holds the model, the optimizer, the
loop's position and the per-epoch history, and runs on to the run's own `epochs`.
"""
import csv
from pathlib import Path

from omegaconf import OmegaConf

from src.runtime.errors import UserError

CHECKPOINT = Path("checkpoints") / "last.ckpt"


class RunFinished(Exception):
    """The run to resume has already written its metrics.json: there is nothing to do."""


def resume_command_line(args: list[str]) -> list[str]:
    """The arguments that continue the run named by `resume=<dir>` (others are returned as given)."""
    given = [a for a in args if a.startswith("resume=")]
    if not given or given[-1] == "resume=null":
        return args
    run_dir = Path(given[-1].split("=", 1)[1]).resolve()
    others = [a for a in args if not a.startswith("resume=")]
    if others:
        raise UserError(
            f"resume={run_dir} continues that run with its own config, so it takes no other "
            f"argument (got: {' '.join(others)}). To change the config, start a new run instead.")
    overrides = run_dir / ".hydra" / "overrides.yaml"
    if not overrides.is_file():
        raise UserError(
            f"resume={run_dir}: {overrides} is missing, so this is not the run directory of "
            f"`python -m src.train` (those are outputs/runs/<date>/<time>/, or a sweep's "
            f"trial directory).")
    if (run_dir / "metrics.json").is_file():
        raise RunFinished(f"Run {run_dir} is finished (its metrics.json is written); nothing to resume.")
    if not (run_dir / CHECKPOINT).is_file():
        raise UserError(
            f"resume={run_dir}: there is no {CHECKPOINT} yet (the run stopped before its first "
            f"epoch ended), so there is nothing to continue from. Start the run again instead.")
    original = [o for o in OmegaConf.load(overrides) if not str(o).startswith("resume=")]
    return [*original, f"resume={run_dir}", f"hydra.run.dir={run_dir}"]


def carry_csv_log(logger, checkpoint: Path) -> None:
    """Keep the CSV log's rows up to the checkpoint; the resumed run logs the later epochs again.

    Lightning's CSVLogger deletes an existing metrics.csv when it starts, so the kept rows
    are handed back to it, to be written ahead of the new ones."""
    import torch  # here, not at the top: resume_command_line runs before every run, training or not
    from pytorch_lightning.loggers import CSVLogger
    from pytorch_lightning.loggers.csv_logs import ExperimentWriter

    if not isinstance(logger, CSVLogger):
        return
    path = Path(logger.log_dir) / ExperimentWriter.NAME_METRICS_FILE
    rows = []
    if path.is_file():
        # mmap: only the epoch is read here; Lightning loads the whole checkpoint itself.
        last_epoch = torch.load(checkpoint, map_location="cpu", weights_only=True, mmap=True)["epoch"]
        with open(path, newline="") as f:
            rows = [{k: v for k, v in row.items() if v != ""} for row in csv.DictReader(f)
                    if int(row["epoch"]) <= last_epoch]
    logger.experiment.metrics[:0] = rows
