"""Run tasks again on a finished run, without training:

    python -m src.evaluate run=<run dir> [tasks=clustering,pictures] [data_dir=<folder>]

Loads the run's config and final checkpoint (src/runs.py), runs the tasks (default: the
run's own `tasks`), and writes each result into the run's metrics.json under the task's
name, keeping the others. Runs written before tasks existed get their results in today's
layout beside their old keys.
"""
import json
import sys

from omegaconf import OmegaConf

from src.runtime.errors import UserError, exit_with
from src.runtime.paths import CONF_DIR
from src.tasks import TASKS

USAGE = "python -m src.evaluate run=<run dir> [tasks=name,name,...] [data_dir=<folder>]"


def parse(args: list[str]) -> dict:
    given = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep or key not in ("run", "tasks", "data_dir"):
            raise UserError(f"src.evaluate takes run=, tasks= and data_dir= (got {arg!r}); usage: {USAGE}.")
        given[key] = value
    if "run" not in given:
        raise UserError(f"src.evaluate needs run=<run dir>; usage: {USAGE}.")
    if "tasks" in given:
        given["tasks"] = [t for t in given["tasks"].strip("[]").split(",") if t]
        unknown = [t for t in given["tasks"] if t not in TASKS]
        if unknown or not given["tasks"]:
            raise UserError(f"tasks={','.join(given['tasks'])}: allowed are names from {list(TASKS)} "
                            "(src/tasks/), comma-separated.")
    return given


def evaluate(run: str, tasks: list[str] | None = None, data_dir: str | None = None) -> dict:
    from pathlib import Path

    from src.runs import load_run
    from src.tasks.base import run_tasks

    run_dir = Path(run)
    cfg, datamodule, model = load_run(run_dir, data_dir=data_dir)
    # a run written before tasks existed: today's default tasks (conf/train.yaml)
    names = tasks or list(cfg.get("tasks", OmegaConf.load(CONF_DIR / "train.yaml").tasks))
    results = run_tasks(names, model, datamodule, run_dir)
    path = run_dir / "metrics.json"
    metrics = json.loads(path.read_text()) if path.is_file() else {}
    metrics.update(results)
    path.write_text(json.dumps(metrics, indent=2))
    return results


def main() -> None:
    try:
        results = evaluate(**parse(sys.argv[1:]))
    except UserError as exc:
        exit_with(exc)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
