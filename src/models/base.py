"""The one LightningModule every model builds on: the training path, written once.

A model says how to compute its loss terms, `loss_terms(x) -> dict` of scalars holding
`loss` (what is minimised), and what it can do by defining any of

    encode(x, sample=False) -> code (a draw from the posterior if sample)
    decode(code) -> images
    sample(n, generator) -> images from the prior
    assign(x) -> cluster index per image

This class owns the rest: the training and validation steps, the per-epoch history
(train means and validation scores, kept in checkpoints), the NaN check without a host
sync, the reduction over DDP ranks, logging, the optimizer and its learning-rate schedule
(`_partial_` configs, conf/optimizer/ and conf/scheduler/) and torch.compile of `loss_terms`.
"""
from functools import partial

import pytorch_lightning as pl
import torch

from src.runtime.errors import NonFiniteLossError
from src.tasks.scores import SplitAccumulator

CAPABILITIES = ("encode", "decode", "sample", "assign")


class BaseModel(pl.LightningModule):
    def __init__(self, optimizer=None, scheduler=None, compile: bool = False, identity: dict | None = None):
        """optimizer: called with the parameters (default: Adam, lr 1e-3, fused); scheduler:
        null (a constant learning rate) or called with the optimizer, stepped once per epoch
        (conf/scheduler/); compile:
        torch.compile `loss_terms` for training (it fuses the step's many small element-wise
        ops); identity: what the model contributes to a run's identity in reports (its
        config's `identity`, e.g. the paper's s, n, m)."""
        super().__init__()
        self.optimizer = optimizer or partial(torch.optim.Adam, lr=1e-3, fused=True)
        self.scheduler = scheduler
        self.identity = dict(identity or {})
        self.history: list[dict] = []
        self._train_sums, self._train_count, self._train_names = None, 0, []
        self._val = SplitAccumulator()
        self.register_buffer("_first_bad_step", torch.tensor(-1), persistent=False)
        self.train_terms = torch.compile(self.loss_terms) if compile else self.loss_terms

    def loss_terms(self, x: torch.Tensor) -> dict:
        raise NotImplementedError

    def can(self, capability: str) -> bool:
        return capability in CAPABILITIES and callable(getattr(self, capability, None))

    # --- training --------------------------------------------------------------------------
    def configure_optimizers(self):
        optimizer = self.optimizer(self.parameters())
        if self.scheduler is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": self.scheduler(optimizer), "interval": "epoch"}}

    def training_step(self, batch, batch_idx):
        x, _ = batch
        terms = self.train_terms(x)
        loss = terms["loss"]
        # Remember the first non-finite step without a host sync; checked once per epoch.
        bad = ~torch.isfinite(loss) & (self._first_bad_step < 0)
        self._first_bad_step = torch.where(bad, batch_idx, self._first_bad_step)
        if self._train_sums is None:  # the epoch's first step names the terms it sums
            self._train_names = ["loss", *(k for k in terms if k != "loss")]
        stacked = torch.stack([terms[k] for k in self._train_names]).detach().float() * len(x)
        self._train_sums = stacked if self._train_sums is None else self._train_sums + stacked
        self._train_count += len(x)
        return loss

    def on_train_epoch_start(self):
        self._train_sums, self._train_count = None, 0

    def check_finite(self):
        step = int(self._first_bad_step)
        if step >= 0:
            lr = self.trainer.optimizers[0].param_groups[0]["lr"]
            raise NonFiniteLossError(
                f"The training loss became NaN or infinite at epoch {self.current_epoch}, "
                f"step {step} of that epoch (lr={lr}). The run was stopped and no "
                f"metrics were written; try a smaller lr or another seed.")

    def on_train_epoch_end(self):
        self.check_finite()

    # --- validation ------------------------------------------------------------------------
    def on_validation_epoch_start(self):
        if not self.trainer.sanity_checking:
            self.check_finite()
        self._val = SplitAccumulator()

    def validation_terms(self, x) -> tuple[dict, torch.Tensor | None]:
        """A validation batch's loss terms and clusters (None for a model that cannot assign);
        a model whose loss already encodes the batch gives its clusters from that one pass."""
        return self.loss_terms(x), (self.assign(x) if self.can("assign") else None)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self._val.update(*self.validation_terms(x), y)

    def on_validation_epoch_end(self):
        if self.trainer.sanity_checking:
            return
        row = {"epoch": self.current_epoch}
        if self._train_sums is not None:
            # Under DDP each rank has seen its own, equal share of the epoch: the mean of the
            # ranks' means is the epoch's (a no-op on one device).
            means = self.trainer.strategy.reduce(self._train_sums / self._train_count, reduce_op="mean")
            row.update({f"train_{k}": v for k, v in zip(self._train_names, means.tolist())})
        val = self._val.compute()  # every rank evaluates the whole hold-out
        row.update({f"val_{k}": v for k, v in val.items() if k != "n"})
        self.history.append(row)
        # The values are the same on every rank; sync_dist tells Lightning so (no warning under DDP).
        logged = {k.replace("_", "/", 1): v for k, v in row.items() if k != "epoch"}
        shown = "val/acc" if "val/acc" in logged else "val/loss"
        self.log(shown, logged.pop(shown), prog_bar=True, sync_dist=True)
        self.log_dict(logged, sync_dist=True)

    # --- checkpoints -----------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint):
        checkpoint["history"] = self.history

    def on_load_checkpoint(self, checkpoint):
        self.history = checkpoint.get("history", [])
