"""The one-step clustering VAE (seed 001) around a backbone (conv or flat), as a LightningModule.

Paper symbols: `latent` = s, `hidden` = m; the backbone's `layers` = n.
The loss lives in src/models/loss.py.
"""
import pytorch_lightning as pl
import torch
from torch import nn

from src.errors import NonFiniteLossError
from src.evaluate import SplitAccumulator
from src.models.backbones import ConvBackbone
from src.models.loss import clustering_vae_loss


class ClusteringVAE(pl.LightningModule):
    # Version 2: the conv backbone's features and decoded vector in (height, width, channel)
    # order; checkpoints of version 1 ((channel, height, width) order) are reordered on load.
    _version = 2

    def __init__(self, backbone: nn.Module, latent: int, hidden: int, num_classes: int = 10,
                 classifier_hidden: int = 256, prior: str = "learned", recon_weight: float = 2.5,
                 kl_estimator: str = "analytic", lr: float = 1e-3, compile: bool = False):
        super().__init__()
        self.save_hyperparameters(ignore=["backbone"])
        self.backbone = backbone
        self.encoder = nn.Linear(backbone.feature_size, hidden)  # no activation: paper section 2
        self.mean_head = nn.Linear(hidden, latent)
        self.logvar_head = nn.Linear(hidden, latent)
        self.decoder = nn.Sequential(
            nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, backbone.decoded_size))
        self.classifier = nn.Sequential(
            nn.Linear(latent, classifier_hidden), nn.ReLU(), nn.Linear(classifier_hidden, num_classes))
        means = torch.zeros(num_classes, latent)  # seed 001 starts every mu_y at 0
        if prior == "learned":
            self.class_means = nn.Parameter(means)
        else:  # the paper's Eq. 3 literally: N(0, I) for every class
            self.register_buffer("class_means", means)
        self.history: list[dict] = []
        self._train_sums, self._train_count = None, 0
        self._val = SplitAccumulator()
        self.register_buffer("_first_bad_step", torch.tensor(-1), persistent=False)
        # torch.compile fuses the step's many small element-wise ops (loss terms, activations,
        # sampling) into a few kernels; compiled at the first training step.
        self.train_terms = torch.compile(self.batch_terms) if compile else self.batch_terms

    # --- model -----------------------------------------------------------------------------
    def encode(self, x):
        h = self.encoder(self.backbone.features(x))
        return self.mean_head(h), self.logvar_head(h)

    def decode(self, z):
        return self.backbone.to_image(self.decoder(z))

    def forward(self, x) -> dict:
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        probs = torch.softmax(self.classifier(z), dim=1)
        return {"mu": mu, "logvar": logvar, "z": z, "probs": probs, "x_rec": self.decode(z)}

    def loss_terms(self, x, out) -> dict:
        return clustering_vae_loss(
            x, out["x_rec"], out["mu"], out["logvar"], out["z"], out["probs"], self.class_means,
            recon_weight=self.hparams.recon_weight, kl_estimator=self.hparams.kl_estimator)

    def batch_terms(self, x) -> dict:
        return self.loss_terms(x, self(x))

    def assign(self, x) -> torch.Tensor:
        """Cluster of each image: argmax p(y|z) at z = the posterior mean."""
        mu, _ = self.encode(x)
        return self.classifier(mu).argmax(1)

    def eval_batch(self, x) -> tuple[dict, torch.Tensor]:
        out = self(x)
        return self.loss_terms(x, out), self.classifier(out["mu"]).argmax(1)

    @torch.no_grad()
    def generate(self, per_class: int, generator=None) -> torch.Tensor:
        """Images decoded from z ~ N(mu_y, I): (classes, per_class, 1, H, W)."""
        k, d = self.class_means.shape
        noise = torch.randn(k, per_class, d, generator=generator).to(self.class_means.device)
        images = self.decode((self.class_means.unsqueeze(1) + noise).view(-1, d))
        return images.view(k, per_class, *images.shape[1:])

    # --- training --------------------------------------------------------------------------
    def configure_optimizers(self):
        # fused: one kernel for all parameters instead of a dozen per-tensor ops (CPU and CUDA)
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr, fused=True)

    def training_step(self, batch, batch_idx):
        x, _ = batch
        terms = self.train_terms(x)
        loss = terms["loss"]
        # Remember the first non-finite step without a host sync; checked once per epoch.
        bad = ~torch.isfinite(loss) & (self._first_bad_step < 0)
        self._first_bad_step = torch.where(bad, batch_idx, self._first_bad_step)
        stacked = torch.stack([terms[k] for k in ("loss", "recon", "kl", "cat")]).detach().float() * len(x)
        self._train_sums = stacked if self._train_sums is None else self._train_sums + stacked
        self._train_count += len(x)
        return loss

    def on_train_epoch_start(self):
        self._train_sums, self._train_count = None, 0

    def check_finite(self):
        step = int(self._first_bad_step)
        if step >= 0:
            raise NonFiniteLossError(
                f"The training loss became NaN or infinite at epoch {self.current_epoch}, "
                f"step {step} of that epoch (lr={self.hparams.lr}). The run was stopped and no "
                f"metrics were written; try a smaller lr or another seed.")

    def on_train_epoch_end(self):
        self.check_finite()

    def on_validation_epoch_start(self):
        if not self.trainer.sanity_checking:
            self.check_finite()
        self._val = SplitAccumulator()

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self._val.update(*self.eval_batch(x), y)

    def on_validation_epoch_end(self):
        if self.trainer.sanity_checking:
            return
        row = {"epoch": self.current_epoch}
        if self._train_sums is not None:
            # Under DDP each rank has seen its own, equal share of the epoch: the mean of the
            # ranks' means is the epoch's (a no-op on one device).
            means = self.trainer.strategy.reduce(self._train_sums / self._train_count, reduce_op="mean")
            row.update({f"train_{k}": v for k, v in zip(("loss", "recon", "kl", "cat"), means.tolist())})
        val = self._val.compute()  # every rank evaluates the whole hold-out
        row.update({f"val_{k}": v for k, v in val.items() if k != "n"})
        self.history.append(row)
        # The values are the same on every rank; sync_dist tells Lightning so (no warning under DDP).
        logged = {k.replace("_", "/", 1): v for k, v in row.items() if k != "epoch"}
        self.log("val/acc", logged.pop("val/acc"), prog_bar=True, sync_dist=True)
        self.log_dict(logged, sync_dist=True)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, *args, **kwargs):
        if local_metadata.get("version", 1) < 2 and isinstance(self.backbone, ConvBackbone):
            features, decoded = self.backbone.from_channel_first_order()
            state_dict[prefix + "encoder.weight"] = state_dict[prefix + "encoder.weight"][:, features]
            for key in ("decoder.2.weight", "decoder.2.bias"):
                state_dict[prefix + key] = state_dict[prefix + key][decoded]
        super()._load_from_state_dict(state_dict, prefix, local_metadata, *args, **kwargs)

    def on_save_checkpoint(self, checkpoint):
        checkpoint["history"] = self.history

    def on_load_checkpoint(self, checkpoint):
        self.history = checkpoint.get("history", [])
