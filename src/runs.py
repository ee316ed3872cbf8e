"""A finished run read back from its directory: its config, data module and trained model.

Used wherever a run is looked at again without training (src.evaluate, the reports'
figures). Run directories written before the parts layout load too: their model config is
upgraded (src/models/legacy.py) and their checkpoint's keys migrated by the model.
"""
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from src.models.legacy import upgrade
from src.runtime.choices import NUM_CLASSES
from src.runtime.errors import UserError
from src.runtime.resume import CHECKPOINT


def load_run(run_dir: Path, device: torch.device | None = None, data_dir: str | None = None):
    """(config, data module set up on `device`, model in eval mode with the final weights).
    `data_dir`: where the data is on this machine, if not where the run found it."""
    run_dir = Path(run_dir)
    for needed in (run_dir / "config.yaml", run_dir / CHECKPOINT):
        if not needed.is_file():
            raise UserError(f"run={run_dir}: {needed} is missing, so this is not a finished run of "
                            "`python -m src.train` (a run directory holds config.yaml and "
                            f"{CHECKPOINT}).")
    cfg, model = load_model(run_dir)
    device = device or torch.device("cpu")
    if data_dir is not None:
        cfg.dataset.root = data_dir
    datamodule = instantiate(cfg.dataset)
    datamodule.prepare_data()
    datamodule.setup(device=device)
    return cfg, datamodule, model.to(device).eval()


def load_model(run_dir: Path) -> tuple[DictConfig, torch.nn.Module]:
    """(config, model with the run's final weights, on the CPU), without its data: what a
    model built on another run's (DEC on a pretrained autoencoder) needs."""
    run_dir = Path(run_dir)
    cfg: DictConfig = OmegaConf.load(run_dir / "config.yaml")
    model = instantiate(upgrade(cfg.model), num_classes=NUM_CLASSES)
    state = torch.load(run_dir / CHECKPOINT, map_location="cpu", weights_only=True)
    model.load_state_dict(state["state_dict"])
    model.history = state.get("history", [])
    return cfg, model
