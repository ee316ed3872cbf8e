"""The one-step clustering VAE (seed 001), with an encoder and a decoder part in front of
and behind it: the paper's conv-optimized VAE (ConvEncoder / ConvDecoder) or its flat
baseline (FlatEncoder / FlatDecoder); conf/model/conv_vae.yaml and flat_vae.yaml.

Paper symbols: `latent` = s and `hidden` = m (the bottleneck's), `layers` = n (the conv parts').
The loss lives in src/models/losses.py.
"""
import logging

import torch

from src.models.base import BaseModel
from src.models.losses import clustering_vae_loss, warmup_weight
from src.models.parts.initialisation import initialise

log = logging.getLogger(__name__)


class ClusteringVAE(BaseModel):
    # Version 2: conv features and decoded vector in (height, width, channel) order.
    # Version 3: encoder / decoder / bottleneck parts (state-dict keys renamed).
    # Checkpoints of earlier versions are migrated on load (_load_from_state_dict).
    _version = 3

    def __init__(self, encoder, decoder, bottleneck, num_classes: int = 10, recon_weight: float = 2.5,
                 kl_estimator: str = "analytic", classifier_input: str = "sampled", init: str = "torch",
                 balance_weight: float = 0.0, kl_warmup_epochs: int = 0, pretrain_epochs: int = 0,
                 class_means_init: str = "zeros", pretrain_as: str = "vae", pretrain_kl_weight: float = 1.0,
                 **base):
        """encoder, decoder: parts (src/models/parts); bottleneck: a MixturePrior still to be
        given the parts' sizes and the number of classes (a `_partial_` config). The other
        keys are the levers of conf/model/base/clustering_vae.yaml, where each is explained."""
        super().__init__(**base)
        self.save_hyperparameters("num_classes", "recon_weight", "kl_estimator", "classifier_input", "init",
                                  "balance_weight", "kl_warmup_epochs", "pretrain_epochs", "class_means_init", "pretrain_as",
                                  "pretrain_kl_weight")
        self.encoder = encoder
        self.decoder = decoder
        self.bottleneck = bottleneck(in_features=encoder.out_features, out_features=decoder.in_features,
                                     num_classes=num_classes)
        initialise(self, init)
        # (KL weight, clustering on): set per epoch; the full loss outside training. Clustering
        # off (pretraining) drops the category and balance terms and holds the means at 0.
        self.register_buffer("_weights", torch.ones(2), persistent=False)
        # Pretraining as an autoencoder: z is the posterior mean and the KL weight is 0.
        self._autoencoding = False
        # The k-means start's own scores, for the history row of the epoch it starts.
        self._start_scores: dict = {}

    def loss_terms(self, x) -> dict:
        return self.terms_of(x, *self.bottleneck.posterior(self.encoder(x)))

    def validation_terms(self, x) -> tuple[dict, torch.Tensor]:
        """One encoder pass for the loss and the clusters (argmax p(y|z) at the posterior mean)."""
        mu, logvar = self.bottleneck.posterior(self.encoder(x))
        return self.terms_of(x, mu, logvar), self.bottleneck.assign(mu)

    def terms_of(self, x, mu, logvar) -> dict:
        b = self.bottleneck
        z = mu if self._autoencoding else b.sample(mu, logvar)
        probs = b.class_probs(z if self.hparams.classifier_input == "sampled" else mu)
        x_rec = self.decoder(b.decode(z))
        kl_weight, clustering = self._weights
        return clustering_vae_loss(x, x_rec, mu, logvar, z, probs, b.class_means * clustering,
                                   recon_weight=self.hparams.recon_weight, kl_estimator=self.hparams.kl_estimator,
                                   kl_weight=kl_weight, cat_weight=clustering,
                                   balance_weight=self.hparams.balance_weight * clustering)

    # --- levers that act between epochs ----------------------------------------------------
    def on_train_epoch_start(self):
        super().on_train_epoch_start()
        epoch, h = self.current_epoch, self.hparams
        pretraining = epoch < h.pretrain_epochs
        if epoch == h.pretrain_epochs and h.class_means_init == "kmeans":
            self.start_from_kmeans()
        # While pretraining: no category or balance term, and a plain VAE (KL to N(0, I), weighted
        # pretrain_kl_weight: a beta-VAE, which sets how many dimensions of the code stay in use) or an
        # autoencoder (no KL, z the posterior mean: the log-variance head rests; logvar enters
        # no term with a weight, so nothing can drive it to overflow as in warmup_weight).
        self._autoencoding = pretraining and h.pretrain_as == "autoencoder"
        kl_weight = 0.0 if self._autoencoding else warmup_weight(epoch, h.kl_warmup_epochs)
        if pretraining:
            kl_weight *= h.pretrain_kl_weight
        self._weights.copy_(torch.tensor([kl_weight, 0.0 if pretraining else 1.0]))

    def on_validation_epoch_end(self):
        super().on_validation_epoch_end()
        if self._start_scores and self.history and not self.trainer.sanity_checking:
            self.history[-1].update(self._start_scores)
            self._start_scores = {}

    def on_train_end(self):
        self._weights.fill_(1.0)
        self._autoencoding = False

    @torch.no_grad()
    def start_from_kmeans(self):
        """k-means (scikit-learn, 10 restarts) on the posterior means of the images trained
        on: the class means start at its centres and the classifier at its assignment
        (MixturePrior.start_from); after autoencoder pretraining the code is first centred and rescaled.
        Rank 0 computes it and the other ranks take its result. The training labels score the
        k-means clustering itself (`kmeans_start_*` in the epoch's history row); nothing reads
        them to train or choose."""
        from src.tasks.kmeans import fit_kmeans
        from src.tasks.scores import clustering_metrics

        datamodule, strategy = self.trainer.datamodule, self.trainer.strategy
        was_training = self.training
        self.eval()
        codes, labels_true = zip(*((self.encode(x), y) for x, y in datamodule.batches("train", datamodule.fit_indices)))
        codes = torch.cat(codes)
        self.train(was_training)
        seed = torch.initial_seed() % 2**32
        kmeans = fit_kmeans(codes.cpu().double().numpy(), self.hparams.num_classes, seed, n_init=10)
        centres = torch.as_tensor(kmeans.cluster_centers_, dtype=codes.dtype, device=codes.device)
        labels = torch.as_tensor(kmeans.labels_, dtype=torch.long, device=codes.device)
        # An autoencoder's code lies where it likes (offsets of ~50 were seen on MNIST); the
        # prior N(mu_y, I) has unit variance and the classifier trains best on centred inputs.
        # So centre the code and scale it (exactly: the decoder undoes it) to a pooled
        # within-cluster variance of 1, as VaDE's Gaussian mixture would fit variances to it.
        centres, labels = strategy.broadcast((centres, labels), src=0)
        scale = 1.0
        if self.hparams.pretrain_as == "autoencoder":  # the same on every rank
            shift, scale = strategy.broadcast((codes.mean(0), float(kmeans.inertia_ / codes.numel()) ** -0.5), src=0)
            self.bottleneck.move_code(shift, scale)
            codes, centres = (codes - shift) * scale, (centres - shift) * scale
        agreement = self.bottleneck.start_from(centres, codes, labels,
                                               generator=torch.Generator().manual_seed(seed))
        scores = clustering_metrics(kmeans.labels_, torch.cat(labels_true).cpu().numpy(), self.hparams.num_classes)
        self._start_scores = {f"kmeans_start_{k}": scores[k] for k in ("acc", "acc_majority", "nmi")}
        self._start_scores["kmeans_start_classifier_agreement"] = agreement
        log.info("k-means start at epoch %d: inertia %.1f, code scaled by %.3g, classifier agrees "
                 "with %.1f%% of its labels; k-means accuracy on the training images %.1f%% (Hungarian)",
                 self.current_epoch, kmeans.inertia_, scale, 100 * agreement, 100 * scores["acc"])

    # --- capabilities ----------------------------------------------------------------------
    def encode(self, x, sample: bool = False) -> torch.Tensor:
        """The posterior mean, or a draw from the posterior if `sample`."""
        mu, logvar = self.bottleneck.posterior(self.encoder(x))
        return self.bottleneck.sample(mu, logvar) if sample else mu

    def decode(self, z) -> torch.Tensor:
        return self.decoder(self.bottleneck.decode(z))

    def assign(self, x) -> torch.Tensor:
        """Cluster of each image: argmax p(y|z) at z = the posterior mean."""
        return self.bottleneck.assign(self.encode(x))

    @torch.no_grad()
    def sample(self, per_class: int, generator=None) -> torch.Tensor:
        """Images decoded from z ~ N(mu_y, I): (classes, per_class, 1, H, W)."""
        z = self.bottleneck.prior_samples(per_class, generator)
        images = self.decode(z.flatten(0, 1))
        return images.view(*z.shape[:2], *images.shape[1:])

    # --- checkpoints of earlier versions ---------------------------------------------------
    def _load_from_state_dict(self, state_dict, prefix, local_metadata, *args, **kwargs):
        version = local_metadata.get("version", 1)
        if version < 3:
            for key in [k for k in state_dict if k.startswith(prefix)]:
                rest = key[len(prefix):]
                old = next((o for o in V2_KEYS if rest.startswith(o)), None)
                if old is not None:
                    state_dict[prefix + V2_KEYS[old] + rest[len(old):]] = state_dict.pop(key)
        if version < 2 and hasattr(self.encoder, "channel_first_order"):
            features, decoded = self.encoder.channel_first_order(), self.decoder.channel_first_order()
            weight = prefix + "bottleneck.to_hidden.weight"
            state_dict[weight] = state_dict[weight][:, features]
            for key in ("bottleneck.from_latent.2.weight", "bottleneck.from_latent.2.bias"):
                state_dict[prefix + key] = state_dict[prefix + key][decoded]
        super()._load_from_state_dict(state_dict, prefix, local_metadata, *args, **kwargs)


# Version 2's state-dict keys (one `backbone` for both conv stacks) -> version 3's parts.
V2_KEYS = {"backbone.con_layer": "encoder.con_layer", "backbone.tran_con_layer1": "decoder.tran_con_layer1",
           "encoder.": "bottleneck.to_hidden.", "mean_head.": "bottleneck.mean_head.",
           "logvar_head.": "bottleneck.logvar_head.", "decoder.": "bottleneck.from_latent.",
           "classifier.": "bottleneck.classifier.", "class_means": "bottleneck.class_means"}
