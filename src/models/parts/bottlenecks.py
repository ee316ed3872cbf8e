"""Bottlenecks: between the encoder's features and the decoder's input vector.

MixturePrior is the clustering VAE's. The others are the autoencoders' codes (the bake-off,
seed 004): each holds the last encoder layer (features -> code) and its own loss term, and
`forward(features, sample) -> (code, penalty, terms)`, `penalty` being what the loss adds
and `terms` what is logged. `has_prior`: codes can be drawn without an image (`prior`)."""
import torch
from torch import nn

from src.models.losses import gaussian_kl, sparsity_kl, vq_terms

ACTIVATIONS = {None: nn.Identity, "relu": nn.ReLU, "sigmoid": nn.Sigmoid}


class MixturePrior(nn.Module):
    """Seed 001's clustering VAE core, read into the paper (SPEC 1): a Gaussian posterior
    q(z|x), a classifier p(y|z) and a prior N(mu_y, I) per class.

    It holds the paper's fully connected layers too: features -> `hidden` units (no
    activation, paper section 2) -> mean and log-variance heads of size `latent`; and
    z -> `hidden`, ReLU -> the decoder's input. With `hidden` null (seed 001) the heads
    read the features and one linear layer maps z to the decoder's input. They are created in that order, then the
    classifier (latent -> classifier_hidden ReLU -> classes) and the class means, which fixes
    the initial weights a seed gives (and so the numbers of every stored run).
    prior: learned (mu_y learned, starting at 0 as in seed 001) or standard (every mu_y
    fixed at 0: the paper's Eq. 3 as written).
    """

    def __init__(self, in_features: int, out_features: int, latent: int, hidden: int | None,
                 num_classes: int = 10, classifier_hidden: int = 256, prior: str = "learned"):
        super().__init__()
        if hidden is None:
            self.to_hidden = nn.Identity()
            self.mean_head, self.logvar_head = nn.Linear(in_features, latent), nn.Linear(in_features, latent)
            self.from_latent = nn.Linear(latent, out_features)
        else:
            self.to_hidden = nn.Linear(in_features, hidden)
            self.mean_head, self.logvar_head = nn.Linear(hidden, latent), nn.Linear(hidden, latent)
            self.from_latent = nn.Sequential(
                nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, out_features))
        self.classifier = nn.Sequential(
            nn.Linear(latent, classifier_hidden), nn.ReLU(), nn.Linear(classifier_hidden, num_classes))
        means = torch.zeros(num_classes, latent)
        if prior == "learned":
            self.class_means = nn.Parameter(means)
        else:
            self.register_buffer("class_means", means)

    def posterior(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) of q(z|x)."""
        h = self.to_hidden(features)
        return self.mean_head(h), self.logvar_head(h)

    @staticmethod
    def sample(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)

    def class_probs(self, z: torch.Tensor) -> torch.Tensor:
        """p(y|z)."""
        return torch.softmax(self.classifier(z), dim=1)

    def assign(self, mu: torch.Tensor) -> torch.Tensor:
        """argmax p(y|z) at z = the posterior mean."""
        return self.classifier(mu).argmax(1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.from_latent(z)

    def prior_samples(self, per_class: int, generator=None) -> torch.Tensor:
        """z ~ N(mu_y, I) for every class: (classes, per_class, latent)."""
        k, d = self.class_means.shape
        noise = torch.randn(k, per_class, d, generator=generator).to(self.class_means.device)
        return self.class_means.unsqueeze(1) + noise

    @torch.no_grad()
    def move_code(self, shift: torch.Tensor, factor: float):
        """Make the posterior mean (mu - shift) * factor and let the decoder's first layer
        undo it (W z + b = (W / factor) z' + (W shift + b)): decode(mu) is unchanged, only
        where the code lies moves (against the prior's unit variance)."""
        self.mean_head.bias.sub_(shift).mul_(factor)
        self.mean_head.weight.mul_(factor)
        first = self.from_latent if isinstance(self.from_latent, nn.Linear) else self.from_latent[0]
        first.bias.add_(first.weight @ shift)
        first.weight.div_(factor)

    @torch.enable_grad()
    def start_from(self, centres: torch.Tensor, codes: torch.Tensor, labels: torch.Tensor,
                   steps: int = 3000, batch_size: int = 256, lr: float = 1e-2, generator=None) -> float:
        """Start the clusters from a clustering of the codes (k-means, no labels used): the
        class means become the centres, and the classifier is fitted to the clustering's
        labels (cross-entropy, Adam at `lr`, `steps` batches drawn from the codes). Returns the
        share of codes whose classifier argmax agrees with its label afterwards."""
        self.class_means.data.copy_(centres.to(self.class_means))
        optimizer = torch.optim.Adam(self.classifier.parameters(), lr=lr)
        for _ in range(steps):
            batch = torch.randint(len(codes), (batch_size,), generator=generator).to(codes.device)
            loss = nn.functional.cross_entropy(self.classifier(codes[batch]), labels[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            return (self.classifier(codes).argmax(1) == labels).float().mean().item()


class Code(nn.Module):
    """A deterministic code: a linear layer to `latent` units, then `activation` (null; relu
    for the shallow autoencoder, as ae_bakeoff's). No loss term of its own."""
    has_prior = False

    def __init__(self, in_features: int, latent: int, activation: str | None = None):
        super().__init__()
        self.latent = latent
        self.to_code = nn.Linear(in_features, latent)
        self.activation = ACTIVATIONS[activation]()

    def forward(self, features: torch.Tensor, sample: bool = False):
        zero = features.new_zeros(())
        return self.activation(self.to_code(features)), zero, {}


class SparseCode(Code):
    """The sparse autoencoder's code: sigmoid units whose batch-mean activation is pulled
    to `target` by `weight` x sparsity_kl (src/models/losses.py)."""

    def __init__(self, in_features: int, latent: int, target: float = 0.25, weight: float = 1.0):
        super().__init__(in_features, latent, "sigmoid")
        self.target, self.weight = target, weight

    def forward(self, features: torch.Tensor, sample: bool = False):
        code = self.activation(self.to_code(features))
        sparsity = sparsity_kl(code, self.target)
        return code, self.weight * sparsity, {"sparsity": sparsity}


class GaussianCode(nn.Module):
    """The VAE's code: mean and log-variance (one linear layer to 2 x latent), z = mu +
    sigma * eps when sampled (training), mu otherwise; `beta` x gaussian_kl to N(0, I)
    (beta 1: VAE; 2: beta-VAE strict; 0.5: loose)."""
    has_prior = True

    def __init__(self, in_features: int, latent: int, beta: float = 1.0):
        super().__init__()
        self.latent, self.beta = latent, beta
        self.to_code = nn.Linear(in_features, 2 * latent)

    def forward(self, features: torch.Tensor, sample: bool = False):
        mu, logvar = self.to_code(features).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if sample else mu
        kl = gaussian_kl(mu, logvar)
        return z, self.beta * kl, {"kl": kl}

    def prior(self, n: int, generator=None) -> torch.Tensor:
        return torch.randn(n, self.latent, generator=generator).to(self.to_code.weight.device)


class QuantizedCode(nn.Module):
    """The vq-VAE's code (ae_bakeoff's form): each of the `latent` code units is replaced by
    the nearest of `codes` scalars of one shared codebook; the decoder's gradient passes to
    the encoder unchanged (straight-through), and vq_terms (commitment weight `commitment`)
    trains the codebook and keeps the encoder near it."""
    has_prior = True

    def __init__(self, in_features: int, latent: int, codes: int = 512, commitment: float = 1.0):
        super().__init__()
        self.latent, self.commitment = latent, commitment
        self.to_code = nn.Linear(in_features, latent)
        self.codebook = nn.Parameter(torch.empty(codes).uniform_(-1 / codes, 1 / codes))

    def quantize(self, encoded: torch.Tensor) -> torch.Tensor:
        nearest = (encoded.unsqueeze(-1) - self.codebook).abs().argmin(-1)
        return self.codebook[nearest]

    def forward(self, features: torch.Tensor, sample: bool = False):
        encoded = self.to_code(features)
        quantized = self.quantize(encoded)
        vq = vq_terms(encoded, quantized, self.commitment)
        return encoded + (quantized - encoded).detach(), vq, {"vq": vq}

    def prior(self, n: int, generator=None) -> torch.Tensor:
        """Codes of units drawn uniformly from the codebook."""
        picks = torch.randint(len(self.codebook), (n, self.latent), generator=generator)
        return self.codebook.detach()[picks.to(self.codebook.device)]
