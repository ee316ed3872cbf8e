"""DEC (Xie, Girshick and Farhadi 2016, "Unsupervised Deep Embedding for Clustering
Analysis") and IDEC (Guo et al. 2017) on a pretrained autoencoder; conf/model/dec.yaml.

The encoder and code layer of a finished autoencoder run (`pretrained`, e.g. model=seed003_ae)
embed the images; K cluster centres start where k-means (n_init 20) on the training images'
codes puts them; then the encoder and the centres minimise (src/models/losses.py)

    L_c = KL(P || Q)                 Eq. 2; Q: Student-t soft assignment, Eq. 1
    P = target(Q_snapshot)           Eq. 3, recomputed every `update_interval` steps

The target is fixed between updates: at each update the model keeps a frozen copy of its
encoder and centres and the soft cluster frequencies f_j over the whole training set, and a
batch's P comes from that copy, which equals P computed for every image at the update. At an
update where fewer than `tolerance` of the training images changed cluster since the last
one, training stops (DEC's stopping rule). DEC drops the decoder; IDEC (`reconstruction: true`)
keeps it and minimises L = L_r + gamma L_c, L_r the squared error per pixel as IDEC's code has it
(losses.mean_squared_error).
"""
import copy

import torch
from torch import nn

from src.models.base import BaseModel
from src.models.losses import dec_kl, mean_squared_error, student_t_assignment, target_distribution


class DEC(BaseModel):
    def __init__(self, pretrained: str, num_classes: int = 10, alpha: float = 1.0, update_interval: int = 140,
                 tolerance: float = 0.001, reconstruction: bool = False, gamma: float = 0.1, **base):
        """pretrained: a finished autoencoder run directory; alpha: the Student-t's degrees of
        freedom; update_interval: steps between target updates; tolerance: the share of
        changed assignments below which training stops; reconstruction, gamma: IDEC."""
        from src.runs import load_model  # a run directory read back: config and weights

        super().__init__(**base)
        self.save_hyperparameters("pretrained", "num_classes", "alpha", "update_interval", "tolerance",
                                  "reconstruction", "gamma")
        _, autoencoder = load_model(pretrained)
        self.encoder, self.bottleneck = autoencoder.encoder, autoencoder.bottleneck
        self.decoder = autoencoder.decoder if reconstruction else None  # DEC drops it, IDEC trains it
        self.identity.setdefault("latent", self.bottleneck.latent)
        self.identity.update(reconstruction=reconstruction, pretrained=str(pretrained))  # DEC or IDEC, on which run
        self.centres = nn.Parameter(torch.zeros(num_classes, self.bottleneck.latent))
        self.register_buffer("initialised", torch.tensor(False))
        self.register_buffer("frequencies", torch.ones(num_classes))
        self._snapshot = None      # (encoder, code layer, centres) at the last target update
        self._assignments = None   # the training images' clusters at the last update
        self.stopped_at_step = None

    def embed(self, x, encoder=None, bottleneck=None) -> torch.Tensor:
        return (bottleneck or self.bottleneck)((encoder or self.encoder)(x))[0]

    def soft_assignment(self, x) -> torch.Tensor:
        return student_t_assignment(self.embed(x), self.centres, self.hparams.alpha)

    def loss_terms(self, x) -> dict:
        return self.terms_and_assignment(x)[0]

    def validation_terms(self, x) -> tuple[dict, torch.Tensor]:
        """One encoder pass for the loss and the clusters (argmax q_ij)."""
        terms, q = self.terms_and_assignment(x)
        return terms, q.argmax(1)

    def terms_and_assignment(self, x) -> tuple[dict, torch.Tensor]:
        z = self.embed(x)
        q = student_t_assignment(z, self.centres, self.hparams.alpha)
        with torch.no_grad():  # a model read back from its run has no snapshot: its own state then
            encoder, bottleneck, centres = self._snapshot or (self.encoder, self.bottleneck, self.centres)
            p = target_distribution(student_t_assignment(self.embed(x, encoder, bottleneck), centres,
                                                         self.hparams.alpha), self.frequencies)
        kl = dec_kl(p, q)
        if not self.hparams.reconstruction:
            return {"loss": kl, "kl": kl}, q
        mse = mean_squared_error(x, self.decoder(z))
        return {"loss": mse + self.hparams.gamma * kl, "kl": kl, "mse": mse}, q

    # --- the k-means start and the target updates ------------------------------------------
    def fit_images(self):
        """The batches of the images trained on (the data module's, during fit)."""
        dm = self.trainer.datamodule
        return dm.batches("train", dm.fit_indices)

    @torch.no_grad()
    def codes(self, batches) -> torch.Tensor:
        was = self.training
        self.eval()
        codes = torch.cat([self.embed(x) for x, _ in batches])
        self.train(was)
        return codes

    @torch.no_grad()
    def start_from_kmeans(self, codes: torch.Tensor, seed: int) -> None:
        """The centres where k-means (the k-means task's: n_init 20, random_state `seed`) puts them
        on `codes`."""
        from src.tasks.kmeans import fit_kmeans

        kmeans = fit_kmeans(codes.cpu().double().numpy(), len(self.centres), seed)
        self.centres.copy_(torch.as_tensor(kmeans.cluster_centers_, dtype=self.centres.dtype))
        self.initialised.fill_(True)

    @torch.no_grad()
    def update_target(self, codes: torch.Tensor) -> float:
        """A new snapshot, and the cluster frequencies of the training images' `codes`;
        returns the share of them whose cluster changed since the last update (1.0 at the first)."""
        q = student_t_assignment(codes, self.centres, self.hparams.alpha)
        self.frequencies.copy_(q.sum(0))
        self._snapshot = (copy.deepcopy(self.encoder).eval(), copy.deepcopy(self.bottleneck).eval(),
                          self.centres.detach().clone())
        assignments = q.argmax(1)
        changed = 1.0 if self._assignments is None else (assignments != self._assignments).float().mean().item()
        self._assignments = assignments
        return changed

    def on_fit_start(self):
        codes = self.codes(self.fit_images())
        if not bool(self.initialised):
            self.start_from_kmeans(codes, self.trainer.datamodule.seed)
        self.update_target(codes)

    def on_train_batch_start(self, batch, batch_idx):
        step = self.global_step
        if step > 0 and step % self.hparams.update_interval == 0:
            changed = self.update_target(self.codes(self.fit_images()))
            if changed < self.hparams.tolerance:
                self.stopped_at_step = step
                self.trainer.should_stop = True
                return -1  # the rest of the epoch is skipped; the run ends
        return None

    # --- capabilities ----------------------------------------------------------------------
    def can(self, capability: str) -> bool:
        """Decoding only with IDEC's decoder."""
        return super().can(capability) and (capability != "decode" or self.decoder is not None)

    def encode(self, x, sample: bool = False) -> torch.Tensor:
        return self.embed(x)

    def decode(self, code) -> torch.Tensor:
        return self.decoder(code)

    def assign(self, x) -> torch.Tensor:
        """The cluster of highest soft assignment q_ij."""
        return self.soft_assignment(x).argmax(1)
