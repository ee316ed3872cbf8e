"""Training throughput: the project's pipeline against the standard one, in one run.

    python -m benchmarks.throughput [--limit N] [--precision 32|bf16-mixed] [--data-dir DIR]

For each model, one training epoch with the same Lightning Trainer settings, the same
model init and batch size 100, fed either by the project's data module (whole split
as device tensors, batches by index) or by the standard
`DataLoader(torchvision dataset, ToTensor(), num_workers=2, shuffle=True)`.
Prints images/s per pipeline and their ratio; the last line is the geometric mean of
the ratios: `speedup_vs_standard_pipeline: X`.
"""
import argparse
import logging
import math
import os
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from torch.utils.data import DataLoader, Subset
from torchvision import transforms

from src.data import DATASETS, ImageDataModule, ensure_raw_files

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
MODELS = {  # name -> overrides of conf/train.yaml
    "conv s=60 n=1 m=512": ["model=conv_vae", "latent=60", "layers=1", "hidden=512"],
    "conv s=60 n=5 m=512": ["model=conv_vae", "latent=60", "layers=5", "hidden=512"],
    "flat s=10 m=512": ["model=flat_vae", "latent=10", "hidden=512"],
}


class EpochTimer(pl.Callback):
    """Wall time of the training epoch alone (data loading included, Trainer setup not)."""

    def on_train_epoch_start(self, trainer, pl_module):
        self.start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.strategy.root_device.type == "cuda":
            torch.cuda.synchronize()
        self.seconds = time.perf_counter() - self.start


def build_model(overrides: list[str], num_classes: int, seed: int = 0):
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    torch.manual_seed(seed)
    return instantiate(cfg.model, num_classes=num_classes)


def train_one_epoch(model, accelerator: str, precision: str, **fit_kwargs) -> float:
    timer = EpochTimer()
    trainer = pl.Trainer(
        accelerator=accelerator, devices=1, max_epochs=1, precision=precision, limit_val_batches=0,
        logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, callbacks=[timer])
    trainer.fit(model, **fit_kwargs)
    return timer.seconds


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("DATA_DIR", "data"))
    parser.add_argument("--dataset", default="mnist", choices=sorted(DATASETS))
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images only")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--precision", default="32", help="Lightning precision, e.g. 32 or bf16-mixed")
    args = parser.parse_args(argv)
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)  # one line per model, not per fit

    accelerator = "gpu" if torch.cuda.is_available() else "cpu"
    device_name = torch.cuda.get_device_name() if accelerator == "gpu" else f"cpu x{torch.get_num_threads()} threads"
    root = ensure_raw_files(args.data_dir, args.dataset, download=True)
    standard_ds = DATASETS[args.dataset](str(root), train=True, transform=transforms.ToTensor())
    n_images = args.limit or len(standard_ds)
    standard_loader = DataLoader(Subset(standard_ds, range(n_images)), batch_size=args.batch_size,
                                 shuffle=True, num_workers=2)

    print(f"device: {device_name}; precision {args.precision}; {n_images} images, batch {args.batch_size}; "
          f"torch {torch.__version__}, lightning {pl.__version__}")
    print(f"{'model':<22} {'project img/s':>14} {'standard img/s':>15} {'ratio':>6}")
    ratios = []
    for name, overrides in MODELS.items():
        # The project's pipeline: all images are trained on (no hold-out), like the standard one.
        dm = ImageDataModule(args.dataset, args.data_dir, batch_size=args.batch_size,
                             val_size=0, limit=args.limit)
        project = train_one_epoch(build_model(overrides, dm.num_classes), accelerator, args.precision,
                                  datamodule=dm)
        standard = train_one_epoch(build_model(overrides, dm.num_classes), accelerator, args.precision,
                                   train_dataloaders=standard_loader)
        ratios.append(standard / project)
        print(f"{name:<22} {n_images / project:14.0f} {n_images / standard:15.0f} {ratios[-1]:6.2f}"
              f"   (epoch: {project:.2f} s vs {standard:.2f} s)", flush=True)
    speedup = math.exp(sum(map(math.log, ratios)) / len(ratios))
    print(f"speedup_vs_standard_pipeline: {speedup:.2f}")
    return speedup


if __name__ == "__main__":
    main()
