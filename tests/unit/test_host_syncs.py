"""The training loop reads no value back from the device per step.

On a GPU every `.item()`, `float(t)`, `int(t)` or `bool(t)` of a device tensor waits for the
device to finish; one per step leaves it idle between steps. Each of them dispatches
`aten._local_scalar_dense`, on the CPU too, so a test on the CPU can count them: a fit of
twice as many steps must read no more values than the shorter one.
"""
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from torch.utils._python_dispatch import TorchDispatchMode

from tests.helpers.processes import ROOT


class ValueReads(TorchDispatchMode):
    """Counts tensor values read into Python."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten._local_scalar_dense.default:
            self.count += 1
        return func(*args, **(kwargs or {}))


def reads_during_fit(data_dir, limit: int, overrides: list[str], tmp_path,
                     read_the_loss: bool = False) -> tuple[int, int]:
    """(values read, training steps) of one epoch of the project's data module, model and
    Trainer (with its validation epoch) on the first `limit` images; `read_the_loss` adds a
    `float(loss)` to every training step."""
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=[f"data_dir={data_dir}", f"dataset.limit={limit}", "epochs=1",
                                          "+dataset.eval_batch_size=100", "latent=4", "layers=2", "hidden=32",
                                          *overrides])
    datamodule = instantiate(cfg.dataset)
    torch.manual_seed(0)
    model = instantiate(cfg.model, num_classes=datamodule.num_classes)
    if read_the_loss:
        step = model.training_step

        def training_step(batch, batch_idx):
            loss = step(batch, batch_idx)
            float(loss)
            return loss
        model.training_step = training_step
    trainer = instantiate(cfg.trainer, default_root_dir=str(tmp_path), logger=False,
                          enable_checkpointing=False, enable_progress_bar=False)
    with ValueReads() as reads:
        trainer.fit(model, datamodule=datamodule)
    return reads.count, trainer.global_step


@pytest.mark.parametrize("model", ["conv_vae", "flat_vae"])
def test_values_are_read_once_per_epoch_not_once_per_step(data_dir, tmp_path, model):
    # 400 images: 3 training steps and 1 validation batch (the hold-out's floor), 2400: 22 and 2
    # compile off: a dispatch mode is not traced into a compiled graph (the eager step is
    # the one that could hold a read; the compiled one runs the same code)
    overrides = [f"model={model}", "model.compile=false"]
    short_reads, short_steps = reads_during_fit(data_dir, 400, overrides, tmp_path / "short")
    long_reads, long_steps = reads_during_fit(data_dir, 2400, overrides, tmp_path / "long")
    assert (short_steps, long_steps) == (3, 22)
    assert short_reads == long_reads


def test_a_read_in_the_training_step_would_be_counted(data_dir, tmp_path):
    overrides = ["model=conv_vae"]
    short_reads, short_steps = reads_during_fit(data_dir, 400, overrides, tmp_path / "short", read_the_loss=True)
    long_reads, long_steps = reads_during_fit(data_dir, 800, overrides, tmp_path / "long", read_the_loss=True)
    assert long_reads - short_reads == long_steps - short_steps > 0
