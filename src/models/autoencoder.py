"""The autoencoders of the bake-off (seed 004, SPEC 4) and seed 003's: an encoder part, a
code bottleneck (src/models/parts/bottlenecks.py: plain, sparse, Gaussian or quantized) and
a decoder part; conf/model/bakeoff/*.yaml and conf/model/seed003_ae.yaml.

    loss = bce + penalty     bce: summed over pixels, averaged over the batch
                             penalty: the bottleneck's own term (KL, sparsity, VQ; 0 for plain)
    loss = mse + penalty     with `reconstruction: mse` (DEC's autoencoder, a linear output):
                             the squared error averaged over pixels and images (Keras' mse)

(src/models/losses.py). Two training variants, config keys of every autoencoder:
`input_noise` (the denoising autoencoder: Gaussian noise of that std on the training inputs,
clipped to [0, 1], the clean image as target) and `stack_epochs` (the stacked autoencoder:
trained greedily, one encoder / decoder layer pair at a time).
"""
import torch

from src.models.base import BaseModel
from src.models.losses import bce_per_image, mean_squared_error, squared_error_per_image


class Autoencoder(BaseModel):
    def __init__(self, encoder, decoder, bottleneck, input_noise: float = 0.0, stack_epochs: int = 0,
                 reconstruction: str = "bce", num_classes: int = 10, **base):
        """encoder, decoder: parts; bottleneck: a code still to be given the encoder's size
        (a `_partial_` config). input_noise: std of the training inputs' noise (0: none).
        stack_epochs: 0 trains every layer together; k > 0 trains layer pair 1 (the encoder's
        first layer and the decoder's last) for k epochs, then pair 2 with pair 1 frozen, and
        so on; the last pair (the code layer and the decoder's first) trains to the end of the
        run. reconstruction: the loss's term, bce or mse. num_classes is not used (every model
        is given it)."""
        super().__init__(**base)
        self.save_hyperparameters("input_noise", "stack_epochs", "reconstruction")
        self.encoder, self.decoder = encoder, decoder
        self.bottleneck = bottleneck(in_features=encoder.out_features)
        self.pairs = len(encoder.blocks) + 1  # the encoder's blocks and the code layer
        if stack_epochs and len(decoder.blocks) != self.pairs:
            raise ValueError(f"stack_epochs needs as many decoder blocks ({len(decoder.blocks)}) "
                             f"as encoder layers ({self.pairs})")
        self.depth = self.pairs  # layer pairs in use; < pairs while a stacked model trains
        self.frozen_pairs = 0    # earlier pairs, frozen while a stacked model trains a later one

    def loss_terms(self, x) -> dict:
        inputs = x
        if self.training and self.hparams.input_noise > 0:
            inputs = (x + self.hparams.input_noise * torch.randn_like(x)).clamp(0, 1)
        h = self.encoder(inputs, depth=self.depth)
        if self.depth == self.pairs:
            code, penalty, terms = self.bottleneck(h, sample=self.training)
        else:  # a stacked model's earlier stage: the code is the deepest block trained so far
            code, penalty, terms = h, h.new_zeros(()), {}
        x_rec = self.decoder(code, start=self.pairs - self.depth)
        image = x_rec.clamp(0, 1)  # a linear output's image, as decode() gives it; a sigmoid's unchanged
        bce = bce_per_image(x, image).mean()
        term = bce if self.hparams.reconstruction == "bce" else mean_squared_error(x, x_rec)
        return {"loss": term + penalty, "bce": bce, "mse": squared_error_per_image(x, image).mean(), **terms}

    # --- the stacked autoencoder -----------------------------------------------------------
    def on_train_epoch_start(self):
        super().on_train_epoch_start()
        k = self.hparams.stack_epochs
        if k:
            self.depth = min(self.current_epoch // k + 1, self.pairs)
            self.frozen_pairs = self.depth - 1
            self.freeze_earlier_pairs()

    def on_train_end(self):
        """Trained: every layer in use and trainable again (as a loaded checkpoint is)."""
        self.depth, self.frozen_pairs = self.pairs, 0
        self.requires_grad_(True)

    def frozen_blocks(self) -> list:
        """The layer pairs trained in earlier stages: the first frozen_pairs encoder blocks
        and the decoder's last frozen_pairs."""
        done = self.frozen_pairs
        if not done:
            return []
        return [*self.encoder.blocks[:done], *self.decoder.blocks[len(self.decoder.blocks) - done:]]

    def freeze_earlier_pairs(self):
        for block in self.frozen_blocks():
            block.requires_grad_(False)
        self.train(self.training)

    def train(self, mode: bool = True):
        """Frozen blocks stay in eval mode: their batch norms keep their statistics."""
        super().train(mode)
        for block in self.frozen_blocks() if mode else []:
            block.eval()
        return self

    # --- capabilities ----------------------------------------------------------------------
    def can(self, capability: str) -> bool:
        """Sampling needs a prior over codes (the VAEs' and the vq-VAE's bottlenecks)."""
        return super().can(capability) and (capability != "sample" or self.bottleneck.has_prior)

    def encode(self, x, sample: bool = False) -> torch.Tensor:
        """The code of `x`: deterministic (a VAE's posterior mean) unless `sample`."""
        return self.bottleneck(self.encoder(x), sample=sample)[0]

    def decode(self, code) -> torch.Tensor:
        """Images in [0, 1]: a linear output clamped (a sigmoid's is already)."""
        return self.decoder(code).clamp(0, 1)

    @torch.no_grad()
    def sample(self, n: int, generator=None) -> torch.Tensor:
        """n images decoded from codes drawn from the bottleneck's prior: (n, 1, H, W)."""
        return self.decode(self.bottleneck.prior(n, generator))
