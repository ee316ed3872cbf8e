"""What a training run tells the Optuna trial it belongs to (no-ops outside an Optuna sweep).

Per epoch: the validation accuracy, so that the study's pruner can stop a poor trial
(`optuna.TrialPruned` ends it as PRUNED). At the end: the scores of every split, the run
directory, wall time, device, commit and the run's settings, as the trial's user attributes
(optuna-dashboard shows them; the experiments' reports are built from them).
"""
from pathlib import Path

import optuna
import pytorch_lightning as pl

from hydra_plugins.optuna5_sweeper.trial_context import current_trial
from src.runtime.provenance import commit_at_start
from src.tasks.base import trial_attrs


class ReportValAccuracy(pl.Callback):
    def __init__(self, metric: str = "val/acc"):
        self.metric = metric
        self.trial = None

    def on_fit_start(self, trainer, pl_module):
        trial = current_trial() if trainer.is_global_zero else None
        # Optuna's pruners work on single-objective studies only.
        self.trial = trial if trial is not None and len(trial.study.directions) == 1 else None

    def on_validation_end(self, trainer, pl_module):
        value = trainer.callback_metrics.get(self.metric)
        if self.trial is None or value is None or trainer.sanity_checking:
            return
        epoch = trainer.current_epoch
        self.trial.report(float(value), step=epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"at epoch {epoch}, {self.metric}={float(value):.4f}")


def record_trial_metrics(metrics: dict, run: dict, run_dir: Path, settings: dict) -> None:
    """`metrics`: the tasks' results (and `parameters`); each task names what of its result
    the trial gets (e.g. `test_acc_majority`). `settings`: what identifies the run beyond the
    sweep's params (data set, model, seed...)."""
    trial = current_trial()
    if trial is None:
        return
    attrs = trial_attrs({k: v for k, v in metrics.items() if k not in ("history", "parameters")})
    attrs.update(run_dir=str(run_dir), wall_seconds=run["wall_seconds"], device=run["device"],
                 parameters=metrics["parameters"], commit=commit_at_start(), **settings)
    for key, value in attrs.items():
        trial.set_user_attr(key, value)
