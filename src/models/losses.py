"""Every loss of the project: the clustering VAE's (first, seed 001 read into the paper as
SPEC 1 says), then the autoencoders' terms (the bake-off, seed 004; SPEC 4), each function
with its equation.

The clustering VAE's loss.

Per image, averaged over the batch:

    recon = recon_weight * 0.5 * sum_pixels (x - x_rec)^2          Eq. 2, weighted (seed 001: 2.5)
    kl    = sum_y p(y|z) * KL'(q(z|x) || N(mu_y, I))                Eq. 3 against a per-class prior
    cat   = sum_y p(y|z) * log p(y|z)                               Eq. 7 (minus the entropy)
    paper_loss = recon + kl + cat                                   the paper's form (Table 1)

What training minimises adds the levers of conf/model/base/clustering_vae.yaml, whose
defaults leave it equal to the paper's form:

    balance = KL(mean_batch p(y|z) || uniform) = log K - H(mean_batch p(y|z))   one per batch
    loss    = recon + kl_weight * kl + cat_weight * cat + balance_weight * balance

The balance term keeps the batch's cluster marginal even (as IMSAT and IIC do): `cat`
alone makes each image's assignment confident but lets a cluster empty. kl_weight is the
KL warm-up (`warmup_weight`); cat_weight is 0 while the model pretrains as a plain VAE.

KL' is the Gaussian KL without its constant -1/2 per latent dimension, as seed 001
computes it (SPEC 1.4), so `loss` is directly comparable to Table 1's loss column:

    analytic:  0.5 * sum_d [ exp(logvar) + (mu - mu_y)^2 - logvar ]
    sampled:   0.5 * sum_d [ (z - mu_y)^2 - logvar ]                seed 001's one-sample estimate

Both have the same expectation; `analytic` (the default) has less variance.
With the standard prior every mu_y is 0, the KL no longer depends on y, and nothing
ties the classifier to the latent code: the paper's Eqs. 2, 3 and 7 taken literally.
"""
import math

import torch
from torch import nn


def clustering_vae_loss(x, x_rec, mu, logvar, z, probs, class_means, recon_weight: float = 2.5,
                        kl_estimator: str = "analytic", kl_weight=1.0, cat_weight=1.0,
                        balance_weight: float = 0.0) -> dict:
    recon = recon_weight * 0.5 * squared_error_per_image(x, x_rec)
    center = mu if kl_estimator == "analytic" else z
    spread = logvar.exp() if kl_estimator == "analytic" else torch.zeros_like(logvar)
    sq_dist = (center.unsqueeze(1) - class_means.unsqueeze(0)).pow(2).sum(2)  # (batch, classes)
    kl_per_class = 0.5 * ((spread - logvar).sum(1, keepdim=True) + sq_dist)
    kl = (probs * kl_per_class).sum(1)
    cat = (probs * torch.log(probs + 1e-7)).sum(1)
    terms = {"recon": recon.mean(), "kl": kl.mean(), "cat": cat.mean(), "balance": balance_term(probs)}
    terms["paper_loss"] = terms["recon"] + terms["kl"] + terms["cat"]
    terms["loss"] = (terms["recon"] + kl_weight * terms["kl"] + cat_weight * terms["cat"]
                     + balance_weight * terms["balance"])
    return terms


def balance_term(probs: torch.Tensor) -> torch.Tensor:
    """KL(p_bar || uniform) = log K - H(p_bar), p_bar = the batch's mean assignment: 0 when
    the clusters are used evenly, log K when every image is in one cluster."""
    mean = probs.mean(0)
    return math.log(probs.shape[1]) + (mean * torch.log(mean + 1e-7)).sum()


def warmup_weight(epoch: int, warmup_epochs: int) -> float:
    """The KL term's weight in epoch `epoch` (from 0): 1 / (W + 1), 2 / (W + 1), ... rising
    linearly to 1 at epoch W = `warmup_epochs`, 1 after it; always 1 without a warm-up.

    It starts above 0: with no KL at all nothing holds the posterior variance, and Adam's
    steps on the log-variance head (times features of size ~20) drove the log-variance to 90
    within 30 steps of MNIST s=10 n=2 m=128, where exp(logvar) overflowed and the loss
    became NaN; at 1/11 the same steps stayed below 0."""
    return 1.0 if warmup_epochs <= 0 else min(1.0, (epoch + 1) / (warmup_epochs + 1))


# --- the autoencoders (src/models/autoencoder.py): per image, averaged over the batch -------
def bce_per_image(x: torch.Tensor, x_rec: torch.Tensor) -> torch.Tensor:
    """-sum_pixels [x log x_rec + (1 - x) log(1 - x_rec)]: the bake-off's reconstruction
    error (torch clamps the logs at -100), one value per image."""
    return nn.functional.binary_cross_entropy(x_rec, x, reduction="none").flatten(1).sum(1)


def squared_error_per_image(x: torch.Tensor, x_rec: torch.Tensor) -> torch.Tensor:
    """sum_pixels (x - x_rec)^2, one value per image (reported beside the BCE)."""
    return (x - x_rec).pow(2).flatten(1).sum(1)


def mean_squared_error(x: torch.Tensor, x_rec: torch.Tensor) -> torch.Tensor:
    """(1 / (N * D)) sum_images sum_pixels (x - x_rec)^2: Keras' mse, the squared error averaged
    over pixels and images. DEC's autoencoder trains on it (DEC-keras: SGD at lr 1, a scale
    that the sum over pixels would blow up); IDEC's L_r as its code computes it: its paper
    writes the sum over pixels, but gamma = 0.1 balances the clustering term against this mean
    (the sum would outweigh KL(P || Q) some thousand times)."""
    return squared_error_per_image(x, x_rec).mean() / x[0].numel()


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, I)) = 0.5 * sum_d [exp(logvar) + mu^2 - 1 - logvar], the
    batch mean (the VAE's term; beta-VAE multiplies it by beta)."""
    return 0.5 * (logvar.exp() + mu.pow(2) - 1 - logvar).sum(1).mean()


def sparsity_kl(code: torch.Tensor, target: float) -> torch.Tensor:
    """sum_d KL(Bernoulli(rho) || Bernoulli(rho_hat_d)) = sum_d [rho log(rho / rho_hat_d)
    + (1 - rho) log((1 - rho) / (1 - rho_hat_d))], rho = `target`, rho_hat_d the batch's mean
    activation of code unit d (a sigmoid code): 0 when every unit's mean is the target."""
    mean = code.mean(0).clamp(1e-6, 1 - 1e-6)
    return (target * torch.log(target / mean) + (1 - target) * torch.log((1 - target) / (1 - mean))).sum()


def vq_terms(encoded: torch.Tensor, quantized: torch.Tensor, commitment: float) -> torch.Tensor:
    """VQ-VAE's (van den Oord et al. 2017, Eq. 3) codebook and commitment terms, summed over
    the code's dimensions: ||sg[e] - q||^2 + commitment * ||e - sg[q]||^2, sg = stop-gradient."""
    codebook = (quantized - encoded.detach()).pow(2).sum(1)
    commit = (encoded - quantized.detach()).pow(2).sum(1)
    return (codebook + commitment * commit).mean()


# --- DEC (src/models/dec.py; Xie, Girshick and Farhadi 2016) --------------------------------
def student_t_assignment(z: torch.Tensor, centres: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """DEC's soft assignment (Eq. 1): q_ij = (1 + ||z_i - mu_j||^2 / alpha)^(-(alpha + 1) / 2),
    normalised over the clusters j; rows sum to 1."""
    distance = torch.cdist(z, centres).pow(2)
    q = (1 + distance / alpha).pow(-(alpha + 1) / 2)
    return q / q.sum(1, keepdim=True)


def target_distribution(q: torch.Tensor, frequencies: torch.Tensor) -> torch.Tensor:
    """DEC's auxiliary target (Eq. 3): p_ij = (q_ij^2 / f_j) / sum_j' (q_ij'^2 / f_j'), with
    f_j = sum_i q_ij the soft cluster frequencies over the whole training set: sharper than q,
    and large clusters weighed down."""
    weight = q.pow(2) / frequencies
    return weight / weight.sum(1, keepdim=True)


def dec_kl(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """DEC's clustering loss (Eq. 2): KL(P || Q) = sum_i sum_j p_ij log(p_ij / q_ij), here the
    mean over the batch's images; 0 when P equals Q."""
    return (p * (torch.log(p.clamp_min(1e-12)) - torch.log(q.clamp_min(1e-12)))).sum(1).mean()
