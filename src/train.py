"""Train one model from the composed config: `python -m src.train [key=value ...]`.

The one training path for every model. Composes conf/train.yaml, checks it, instantiates
data / model / trainer through their `_target_`, fits, runs the config's `tasks` (src/tasks/),
writes metrics.json and run.json into the run directory, and returns the `objective` (what
a sweeper optimises). `resume=<run dir>` continues a killed run (src/runtime/resume.py).
"""
import json
import logging
import sys
import time
from pathlib import Path

import hydra
from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from src.runtime.allocator import keep_freed_memory
from src.runtime.config_check import check_config, check_device, check_group_overrides, objective_paths
from src.runtime.console import quiet_libraries
from src.runtime.cuda_probe import skip_missing_nvml
from src.runtime.errors import NonFiniteLossError, UserError, exit_with
from src.runtime.paths import CONF_DIR, SWEEPS_DIR
from src.runtime.provenance import commit_at_start
from src.runtime.resume import CHECKPOINT, RunFinished, carry_csv_log, resume_command_line

log = logging.getLogger(__name__)


def register_sweeps() -> None:
    """Make sweeps/*.yaml the `sweep` config group (`-m sweep=table1_mnist`).

    They live at the top level, beside conf/, so that a sweep is easy to find and copy.
    """
    for path in sorted(SWEEPS_DIR.glob("*.yaml")):
        ConfigStore.instance().store(group="sweep", name=path.stem, node=OmegaConf.load(path),
                                     package="_global_")


def train(cfg: DictConfig, run_dir: Path) -> dict:
    # Imported here: torch, torchvision and Lightning take about 4 s to import, which a process
    # that never trains (`--cfg job`, a refused config, a sweep with nothing left) need not pay.
    import pytorch_lightning as pl
    import torch

    from src.tasks.base import run_tasks
    from src.trials.reporting import record_trial_metrics

    check_config(cfg)
    check_device(cfg)
    skip_missing_nvml()  # after Lightning's import, which turns the probe on
    if cfg.keep_freed_memory:
        keep_freed_memory()
    pl.seed_everything(cfg.seed, workers=False, verbose=False)
    datamodule = instantiate(cfg.dataset)
    datamodule.prepare_data()
    model = instantiate(cfg.model, num_classes=datamodule.num_classes)
    logger = instantiate(cfg.logger)
    checkpoint = run_dir / CHECKPOINT if cfg.resume else None
    if checkpoint is not None:
        carry_csv_log(logger, checkpoint)
    trainer = instantiate(cfg.trainer, logger=logger,
                          callbacks=[instantiate(c) for c in cfg.callbacks.values() if c is not None])
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))

    start = time.perf_counter()
    trainer.fit(model, datamodule=datamodule, ckpt_path=checkpoint, weights_only=True)
    fit_seconds = time.perf_counter() - start
    if not trainer.is_global_zero:
        return {}

    device = datamodule.splits["train"][0].device
    model.to(device, torch.float32)  # evaluated in fp32 whatever the training precision
    metrics = {**run_tasks(cfg.tasks, model, datamodule, run_dir), "history": model.history,
               "parameters": sum(p.numel() for p in model.parameters())}
    # Timing and hardware go to run.json, so that metrics.json depends on seed and config only.
    run = {
        "fit_seconds": fit_seconds,
        "wall_seconds": time.perf_counter() - start,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "resumed_from": str(checkpoint) if checkpoint else None,
    }
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    (run_dir / "run.json").write_text(json.dumps(run, indent=2))
    record_trial_metrics(metrics, run, run_dir, run_settings(cfg, model))
    return {**metrics, **run}


def run_settings(cfg: DictConfig, model) -> dict:
    """What identifies a run in a report: data set, model, what the model's config names
    (its `identity`: the paper's s / n / m for Table 1's models), seed, length, and the class
    left out of training if one was (the anomaly protocol)."""
    choices = HydraConfig.get().runtime.choices if HydraConfig.initialized() else {}
    excluded = cfg.dataset.get("exclude_class")
    return {"dataset": cfg.dataset.name, "model": choices.get("model"), "levers": choices.get("levers"),
            **model.identity, "seed": cfg.seed, "epochs": cfg.epochs, "limit": cfg.dataset.limit,
            **({"exclude_class": excluded} if excluded is not None else {})}


def summary(metrics: dict, run_dir: Path) -> str:
    """The scores of each split, as far as the run's tasks gave them."""
    loss, clustering = metrics.get("loss", {}), metrics.get("clustering", {})
    lines = [f"{'split':<6} {'loss':>8} {'acc':>7} {'acc_maj':>7} {'nmi':>6} {'ari':>6} {'images':>7}"]
    for split in ("train", "val", "test"):
        ls, cs = loss.get(split, {}), clustering.get(split, {})
        cells = [f"{ls['loss']:8.2f}" if "loss" in ls else f"{'-':>8}"]
        cells += [f"{cs[k]:7.2%}" if k in cs else f"{'-':>7}" for k in ("acc", "acc_majority")]
        cells += [f"{cs[k]:6.3f}" if k in cs else f"{'-':>6}" for k in ("nmi", "ari")]
        n = ls.get("n", cs.get("n"))
        lines.append(f"{split:<6} {' '.join(cells)} {n if n is not None else '-':>7}")
    for name, result in metrics.items():
        if isinstance(result, dict) and "skipped" in result:
            lines.append(f"task {name} skipped: {result['skipped']}")
    lines.append(f"wall time {metrics['wall_seconds']:.0f} s on {metrics['device']}; run dir {run_dir}")
    return "\n".join(lines)


def objective(metrics: dict, cfg: DictConfig) -> float | list[float]:
    """The value(s) a sweeper optimises: `objective` names them as paths into metrics.json."""
    values = [float(OmegaConf.select(OmegaConf.create(metrics), p, throw_on_missing=True))
              for p in objective_paths(cfg)]
    return values[0] if len(values) == 1 else values


register_sweeps()


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="train")
def main(cfg: DictConfig) -> float | list[float] | None:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    commit_at_start()  # the code this process runs, before the checkout can move on
    quiet_libraries()  # library chatter to the run's train.log only
    try:
        metrics = train(cfg, run_dir)
    except (UserError, NonFiniteLossError) as exc:
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            raise  # the sweeper records this job as failed, with the reason; the other jobs go on
        exit_with(exc)
    if not metrics:
        return None
    log.info("\n" + summary(metrics, run_dir))
    return objective(metrics, cfg)


def cli() -> None:
    """`python -m src.train ...`: main(), after `resume=<run dir>` is turned into that run's arguments."""
    try:
        check_group_overrides(sys.argv[1:])
        sys.argv[1:] = resume_command_line(sys.argv[1:])
    except UserError as exc:
        exit_with(exc)
    except RunFinished as done:
        print(done)
        sys.exit(0)
    main()


if __name__ == "__main__":
    # Run the module's own functions, not this __main__ copy's: launchers that pickle the task
    # (joblib, submitit) then send a reference to src.train.main instead of its globals.
    from src.train import cli as entry_point

    entry_point()
