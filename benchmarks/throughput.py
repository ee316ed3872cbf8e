"""Training throughput: the project's pipeline against the standard one, in one run.

    python -m benchmarks.throughput [--limit N] [--epochs E] [--model NAME ...] [key=value ...]

For each model: E training epochs (default 3) with the same model init and batch size
100, fed either

- by the project's pipeline: the data module (whole split as device tensors, batches
  by index), the model and Trainer settings of conf/ (conf/model/*.yaml, trainer=cpu or
  gpu, keep_freed_memory; `key=value` arguments override them, e.g.
  `trainer.precision=bf16-mixed` or `model.compile=false`), no per-step NVML probe where
  there is no NVIDIA driver (src/cuda_probe.py), or
- by the standard one: a plain `Trainer` in fp32 over
  `DataLoader(torchvision dataset, ToTensor(), num_workers=2, shuffle=True)`, the model
  uncompiled.

The median epoch after the first is timed (steady state: DataLoader workers started, model
compiled); the first epoch's time (compilation, warm-up) is printed beside it. Prints
images/s per pipeline and their ratio; the last line is the geometric mean of the ratios:
`speedup_vs_standard_pipeline: X`.

Beside each model it prints a compute floor: the epoch time if every matmul and
convolution FLOP of a training step (counted by PyTorch's FlopCounterMode) ran at the rate
of a large square matmul on this device, measured in the same run in the project's
precision. No pipeline can be much faster than its floor; the percentage says how close
the project's pipeline gets.
"""
import argparse
import logging
import math
import os
import statistics
import tempfile
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from torch.utils.data import DataLoader, Subset
from torch.utils.flop_counter import FlopCounterMode
from torchvision import transforms

from src.runtime.allocator import keep_freed_memory
from src.runtime.config_check import check_device
from src.runtime.cuda_probe import skip_missing_nvml
from src.data import DATASETS, ensure_raw_files
from src.runtime.errors import UserError, exit_with

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
MODELS = {  # name -> (overrides of conf/train.yaml, the batch size its runs train with)
    "conv s=60 n=1 m=512": (["model=conv_vae", "latent=60", "layers=1", "hidden=512"], 100),
    "conv s=60 n=5 m=512": (["model=conv_vae", "latent=60", "layers=5", "hidden=512"], 100),
    "flat s=10 m=512": (["model=flat_vae", "latent=10", "hidden=512"], 100),
    # the bake-off's dense autoencoders (conf/bakeoff_protocol/features.yaml: 32x32, batch 256)
    "bakeoff vanilla s=20": (["model=bakeoff/vanilla", "latent=20", "dataset.image_size=32"], 256),
    "bakeoff vae s=20": (["model=bakeoff/vae", "latent=20", "dataset.image_size=32"], 256),
}


class EpochTimer(pl.Callback):
    """Wall time of each training epoch (data loading included, Trainer setup not)."""

    def __init__(self):
        self.seconds: list[float] = []

    def on_train_epoch_start(self, trainer, pl_module):
        self.start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.strategy.root_device.type == "cuda":
            torch.cuda.synchronize()
        self.seconds.append(time.perf_counter() - self.start)


def project_config(overrides: list[str]):
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("train", overrides=overrides)


QUIET = dict(logger=False, enable_checkpointing=False, enable_progress_bar=False,
             enable_model_summary=False, limit_val_batches=0)


def project_epochs(cfg, seed: int = 0) -> list[float]:
    """Epoch times of the project's pipeline: its data module, model and Trainer config."""
    timer = EpochTimer()
    datamodule = instantiate(cfg.dataset)
    torch.manual_seed(seed)
    model = instantiate(cfg.model, num_classes=datamodule.num_classes)
    with tempfile.TemporaryDirectory() as root:
        trainer = instantiate(cfg.trainer, default_root_dir=root, callbacks=[timer], **QUIET)
        trainer.fit(model, datamodule=datamodule)
    return timer.seconds


def standard_epochs(cfg, loader: DataLoader, accelerator: str, seed: int = 0) -> list[float]:
    """Epoch times of the reference: same model and init, fp32, uncompiled, a plain Trainer."""
    timer = EpochTimer()
    torch.manual_seed(seed)
    model = instantiate(cfg.model, num_classes=len(loader.dataset.dataset.classes), compile=False)
    with tempfile.TemporaryDirectory() as root:
        trainer = pl.Trainer(accelerator=accelerator, devices=1, max_epochs=cfg.epochs, precision="32",
                             default_root_dir=root, callbacks=[timer], **QUIET)
        trainer.fit(model, train_dataloaders=loader)
    return timer.seconds


def step_flops(cfg, num_classes: int, batch_size: int) -> int:
    """Matmul and convolution FLOPs of one training step (forward and backward)."""
    model = instantiate(cfg.model, num_classes=num_classes, compile=False)
    x = torch.rand(batch_size, 1, cfg.dataset.image_size, cfg.dataset.image_size)
    with FlopCounterMode(display=False) as counter:
        model.loss_terms(x)["loss"].backward()
    return counter.get_total_flops()


def matmul_rate(device: str, precision: str) -> float:
    """FLOP/s of a large square matmul: the best this device's GEMMs do in this precision."""
    dtype = {"bf16": torch.bfloat16, "16": torch.float16, "64": torch.float64}.get(
        precision.split("-")[0], torch.float32)
    size, repeats = (8192, 20) if device == "cuda" else (2048, 5)
    a, b = (torch.randn(size, size, device=device, dtype=dtype) for _ in range(2))
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    a @ b
    sync()
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    sync()
    return 2 * size ** 3 * repeats / (time.perf_counter() - start)


def steady(seconds: list[float]) -> float:
    """The median epoch after the first (the first itself when it is the only one)."""
    return statistics.median(seconds[1:] or seconds)


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("DATA_DIR", "data"))
    parser.add_argument("--dataset", default="mnist", choices=sorted(DATASETS))
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images only")
    parser.add_argument("--epochs", type=int, default=3,
                        help="epochs per fit; the median epoch after the first is timed")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="every model's batch size (default: the one its runs use, 100 or 256)")
    parser.add_argument("--model", action="append", choices=list(MODELS), dest="models", metavar="NAME",
                        help=f"one of {', '.join(map(repr, MODELS))}; repeat for more (default: all)")
    parser.add_argument("overrides", nargs="*", help="key=value overrides of the project's config")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs must be >= 1, got {args.epochs}")
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)  # one line per model, not per fit

    accelerator = "gpu" if torch.cuda.is_available() else "cpu"
    device_name = torch.cuda.get_device_name() if accelerator == "gpu" else f"cpu x{torch.get_num_threads()} threads"
    root = ensure_raw_files(args.data_dir, args.dataset, download=True)
    common = [f"trainer={accelerator}", f"dataset={args.dataset}", f"data_dir={args.data_dir}",
              f"epochs={args.epochs}",
              # all images are trained on (no hold-out), like the standard pipeline
              "dataset.val_size=0", f"dataset.limit={args.limit or 'null'}"]
    names = args.models or list(MODELS)
    batch_sizes = {name: args.batch_size or MODELS[name][1] for name in names}
    configs = {name: project_config(common + MODELS[name][0] + [f"batch_size={batch_sizes[name]}"] + args.overrides)
               for name in names}

    def standard_loader(cfg) -> DataLoader:
        """torchvision's dataset, padded to the model's image size as the project's data module pads."""
        pad = (cfg.dataset.image_size - 28) // 2
        dataset = DATASETS[args.dataset](str(root), train=True,
                                         transform=transforms.Compose([transforms.Pad(pad), transforms.ToTensor()]))
        return DataLoader(Subset(dataset, range(n_images)), batch_size=cfg.batch_size,
                          shuffle=True, num_workers=2, persistent_workers=True)

    n_images = args.limit or len(DATASETS[args.dataset](str(root), train=True))
    try:
        for cfg in configs.values():
            check_device(cfg)  # bf16 on a CPU without bf16 kernels
    except UserError as exc:
        exit_with(exc)

    timed = f"median of epochs 2-{args.epochs}" if args.epochs > 1 else "epoch 1"
    print(f"device: {device_name}; {n_images} images, batch {args.batch_size or 'as the runs (100; bake-off 256)'}, {timed} timed; "
          f"torch {torch.__version__}, lightning {pl.__version__}; "
          f"project overrides: {' '.join(args.overrides) or 'none'}")
    print(f"{'model':<22} {'project img/s':>14} {'standard img/s':>15} {'ratio':>6}")
    # Every standard run first: the project's process settings (keep_freed_memory, the CUDA
    # probe) last for the rest of the process, and the reference must run with the defaults.
    standards = {name: standard_epochs(configs[name], standard_loader(configs[name]), accelerator) for name in names}
    skip_missing_nvml()
    ratios, rates = [], {}
    for name in names:
        cfg, standard = configs[name], standards[name]
        if cfg.keep_freed_memory:
            keep_freed_memory()
        project = project_epochs(cfg)
        project_s, standard_s = steady(project), steady(standard)
        ratios.append(standard_s / project_s)
        precision = str(cfg.trainer.precision)
        if precision not in rates:
            rates[precision] = matmul_rate("cuda" if accelerator == "gpu" else "cpu", precision)
        steps = math.ceil(n_images / batch_sizes[name])
        floor = step_flops(cfg, len(DATASETS[args.dataset].classes), batch_sizes[name]) * steps / rates[precision]
        setting = f"precision {precision}, compile {cfg.model.compile}, keep_freed_memory {cfg.keep_freed_memory}"
        print(f"{name:<22} {n_images / project_s:14.0f} {n_images / standard_s:15.0f} {ratios[-1]:6.2f}"
              f"   (epoch: {project_s:.2f} s vs {standard_s:.2f} s; first epoch "
              f"{project[0]:.2f} s vs {standard[0]:.2f} s; project: {setting}; compute floor "
              f"{floor:.2f} s, project at {100 * floor / project_s:.0f}% of it)", flush=True)
    for precision, rate in rates.items():
        print(f"matmul rate ({precision}): {rate / 1e9:.0f} GFLOP/s")
    speedup = math.exp(sum(map(math.log, ratios)) / len(ratios))
    print(f"speedup_vs_standard_pipeline: {speedup:.2f}")
    return speedup


if __name__ == "__main__":
    main()
