"""The one-step clustering VAE (seed 001), with an encoder and a decoder part in front of
and behind it: the paper's conv-optimized VAE (ConvEncoder / ConvDecoder) or its flat
baseline (FlatEncoder / FlatDecoder); conf/model/conv_vae.yaml and flat_vae.yaml.

Paper symbols: `latent` = s and `hidden` = m (the bottleneck's), `layers` = n (the conv parts').
The loss lives in src/models/losses.py.
"""
import torch

from src.models.base import BaseModel
from src.models.losses import clustering_vae_loss


class ClusteringVAE(BaseModel):
    # Version 2: conv features and decoded vector in (height, width, channel) order.
    # Version 3: encoder / decoder / bottleneck parts (state-dict keys renamed).
    # Checkpoints of earlier versions are migrated on load (_load_from_state_dict).
    _version = 3

    def __init__(self, encoder, decoder, bottleneck, num_classes: int = 10, recon_weight: float = 2.5,
                 kl_estimator: str = "analytic", **base):
        """encoder, decoder: parts (src/models/parts); bottleneck: a MixturePrior still to be
        given the parts' sizes and the number of classes (a `_partial_` config)."""
        super().__init__(**base)
        self.save_hyperparameters("num_classes", "recon_weight", "kl_estimator")
        self.encoder = encoder
        self.decoder = decoder
        self.bottleneck = bottleneck(in_features=encoder.out_features, out_features=decoder.in_features,
                                     num_classes=num_classes)

    def loss_terms(self, x) -> dict:
        b = self.bottleneck
        mu, logvar = b.posterior(self.encoder(x))
        z = b.sample(mu, logvar)
        probs = b.class_probs(z)
        x_rec = self.decoder(b.decode(z))
        return clustering_vae_loss(x, x_rec, mu, logvar, z, probs, b.class_means,
                                   recon_weight=self.hparams.recon_weight, kl_estimator=self.hparams.kl_estimator)

    # --- capabilities ----------------------------------------------------------------------
    def encode(self, x) -> torch.Tensor:
        """The posterior mean."""
        return self.bottleneck.posterior(self.encoder(x))[0]

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
