"""The clustering VAE's loss (seed 001, read into the paper as SPEC 1 says).

Per image, averaged over the batch:

    recon = recon_weight * 0.5 * sum_pixels (x - x_rec)^2          Eq. 2, weighted (seed 001: 2.5)
    kl    = sum_y p(y|z) * KL'(q(z|x) || N(mu_y, I))                Eq. 3 against a per-class prior
    cat   = sum_y p(y|z) * log p(y|z)                               Eq. 7 (minus the entropy)
    loss  = recon + kl + cat

KL' is the Gaussian KL without its constant -1/2 per latent dimension, as seed 001
computes it (SPEC 1.4), so `loss` is directly comparable to Table 1's loss column:

    analytic:  0.5 * sum_d [ exp(logvar) + (mu - mu_y)^2 - logvar ]
    sampled:   0.5 * sum_d [ (z - mu_y)^2 - logvar ]                seed 001's one-sample estimate

Both have the same expectation; `analytic` (the default) has less variance.
With the standard prior every mu_y is 0, the KL no longer depends on y, and nothing
ties the classifier to the latent code: the paper's Eqs. 2, 3 and 7 taken literally.
"""
import torch


def clustering_vae_loss(x, x_rec, mu, logvar, z, probs, class_means,
                        recon_weight: float = 2.5, kl_estimator: str = "analytic") -> dict:
    recon = recon_weight * 0.5 * (x - x_rec).pow(2).flatten(1).sum(1)
    center = mu if kl_estimator == "analytic" else z
    spread = logvar.exp() if kl_estimator == "analytic" else torch.zeros_like(logvar)
    sq_dist = (center.unsqueeze(1) - class_means.unsqueeze(0)).pow(2).sum(2)  # (batch, classes)
    kl_per_class = 0.5 * ((spread - logvar).sum(1, keepdim=True) + sq_dist)
    kl = (probs * kl_per_class).sum(1)
    cat = (probs * torch.log(probs + 1e-7)).sum(1)
    terms = {"recon": recon.mean(), "kl": kl.mean(), "cat": cat.mean()}
    terms["loss"] = terms["recon"] + terms["kl"] + terms["cat"]
    return terms
