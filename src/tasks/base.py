"""The task contract, and running a run's tasks.

A task takes the trained model, the data module (set up, splits on the model's device)
and the run directory, and returns a dict, stored in metrics.json under its name. It
declares the model capabilities it needs (src/models/base.py: encode, decode, sample,
assign); a model lacking one, or a run whose data the task cannot use (`unavailable`), gets
the task skipped, and the reason stored instead.
`trial_attrs` names what of its result goes to the run's Optuna trial.
"""
from pathlib import Path

import torch
from hydra.utils import get_class

from src.tasks import TASKS


class Task:
    name = ""
    needs: tuple[str, ...] = ()

    def __call__(self, model, datamodule, run_dir: Path) -> dict:
        raise NotImplementedError

    def unavailable(self, model, datamodule) -> str | None:
        """Why this task cannot run on this model and data, or None."""
        lacking = [need for need in self.needs if not model.can(need)]
        if lacking:
            return f"{type(model).__name__} cannot {', '.join(lacking)} (task {self.name} needs it)"
        return None

    def trial_attrs(self, result: dict) -> dict:
        return {}


def splits(datamodule, names=("train", "val", "test")) -> dict:
    """The batches of each split a score is reported for (of `names`): the whole training file
    (the paper's "train" column: the images trained on and the held-out ones), the held-out
    validation images (the objective of sweeps) and the test set."""
    every = {"train": lambda: datamodule.batches("train"),
             "val": lambda: datamodule.batches("train", datamodule.val_indices),
             "test": lambda: datamodule.batches("test")}
    return {name: every[name]() for name in names}


def build(name: str) -> Task:
    return get_class(TASKS[name])()


@torch.no_grad()
def run_tasks(names, model, datamodule, run_dir: Path) -> dict:
    """{task name: result} for `names`, in order, with the model in eval mode."""
    was_training = model.training
    model.eval()
    results = {}
    try:
        for name in names:
            task = build(name)  # a task is small: built where it runs, and again for its trial attributes
            reason = task.unavailable(model, datamodule)
            results[name] = {"skipped": reason} if reason else task(model, datamodule, Path(run_dir))
    finally:
        model.train(was_training)
    return results


def trial_attrs(results: dict) -> dict:
    """What the tasks' results put on the run's Optuna trial."""
    attrs = {}
    for name, result in results.items():
        if "skipped" not in result:
            attrs.update(build(name).trial_attrs(result))
    return attrs
