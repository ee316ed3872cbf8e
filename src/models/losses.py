"""The clustering VAE's loss (seed 001, read into the paper as SPEC 1 says).

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


def clustering_vae_loss(x, x_rec, mu, logvar, z, probs, class_means, recon_weight: float = 2.5,
                        kl_estimator: str = "analytic", kl_weight=1.0, cat_weight=1.0,
                        balance_weight: float = 0.0) -> dict:
    recon = recon_weight * 0.5 * (x - x_rec).pow(2).flatten(1).sum(1)
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
