"""Train one model from the composed config: `python -m src.train [key=value ...]`.

Composes conf/train.yaml, checks it, instantiates data / model / trainer through their
`_target_`, fits, evaluates train / val / test, writes metrics.json, run.json and pictures
into the run directory, and returns the validation accuracy (what a sweeper optimises).
`resume=<run dir>` continues a killed run (src/resume.py).
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

from src.allocator import keep_freed_memory
from src.config_check import check_config, check_device, objective_paths
from src.cuda_probe import skip_missing_nvml
from src.errors import NonFiniteLossError, UserError, exit_with
from src.resume import CHECKPOINT, RunFinished, carry_csv_log, resume_command_line

log = logging.getLogger(__name__)
CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
SWEEPS_DIR = CONF_DIR.parent / "sweeps"


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

    from src.evaluate import evaluate
    from src.optuna_reporting import record_trial_metrics
    from src.pictures import save_pictures

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
    metrics = {
        "train": evaluate(model, datamodule.batches("train")),
        "val": evaluate(model, datamodule.batches("train", datamodule.val_indices)),
        "test": evaluate(model, datamodule.batches("test")),
        "history": model.history,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    # Timing and hardware go to run.json, so that metrics.json depends on seed and config only.
    run = {
        "fit_seconds": fit_seconds,
        "wall_seconds": time.perf_counter() - start,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "resumed_from": str(checkpoint) if checkpoint else None,
    }
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    (run_dir / "run.json").write_text(json.dumps(run, indent=2))
    record_trial_metrics(metrics, run, run_dir, run_settings(cfg))
    if cfg.pictures:
        save_pictures(model, *datamodule.splits["test"], datamodule.classes, run_dir, seed=cfg.seed)
    return {**metrics, **run}


def run_settings(cfg: DictConfig) -> dict:
    """What identifies a run in a report: data set, model, the paper's s / n / m, seed, length."""
    model = HydraConfig.get().runtime.choices.get("model") if HydraConfig.initialized() else None
    return {"dataset": cfg.dataset.name, "model": model, "latent": cfg.latent,
            "layers": cfg.layers if model != "flat_vae" else None, "hidden": cfg.hidden,
            "seed": cfg.seed, "epochs": cfg.epochs, "limit": cfg.dataset.limit}


def summary(metrics: dict, run_dir: Path) -> str:
    lines = [f"{'split':<6} {'loss':>8} {'acc':>7} {'acc_maj':>7} {'nmi':>6} {'ari':>6} {'images':>7}"]
    for split in ("train", "val", "test"):
        m = metrics[split]
        lines.append(f"{split:<6} {m['loss']:8.2f} {m['acc']:7.2%} {m['acc_majority']:7.2%} "
                     f"{m['nmi']:6.3f} {m['ari']:6.3f} {m['n']:7d}")
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
    logging.captureWarnings(True)  # library warnings go to the run's log (and the console, by level)
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
