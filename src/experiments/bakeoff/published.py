"""The numbers the bake-off report compares with.

ae_bakeoff (tilman151/ae_bakeoff, seed 004; ../shared/SPEC.md section 4 for MNIST, the
repository's results/fmnist/ for Fashion-MNIST): one run per model, the test set's
reconstruction BCE (summed over the 1,024 pixels, mean over images) and the linear probe's
test accuracy (550 labels). Its anomaly AUCs were computed before a scoring fix its author
made: SPEC keeps only the best (shallow, 0.91 on MNIST), for context.

Seed 003 (SPEC section 3): NMI of k-means on MNIST, raw pixels 0.50, its autoencoder's code 0.74.
"""
MODELS = ("shallow", "vanilla", "stacked", "sparse", "denoising", "vae", "beta_vae_strict", "beta_vae_loose", "vq")

RECONSTRUCTION_BCE = {
    "mnist": dict(zip(MODELS, (123.2, 63.92, 87.87, 64.27, 75.15, 76.12, 86.12, 69.51, 64.49))),
    "fashion_mnist": dict(zip(MODELS, (240.93, 212.60, 228.19, 212.72, 247.84, 224.52, 231.09, 219.10, 213.05))),
}
LINEAR_PROBE = {
    "mnist": dict(zip(MODELS, (0.4511, 0.7835, 0.6107, 0.2221, 0.8049, 0.6016, 0.4536, 0.6311, 0.7717))),
    "fashion_mnist": dict(zip(MODELS, (0.5851, 0.6774, 0.6563, 0.3248, 0.7097, 0.4896, 0.3828, 0.5225, 0.7191))),
}
PROBE_FROM_SCRATCH = {"mnist": 0.4364}
ANOMALY_BEST = {"mnist": ("shallow", 0.91)}
SEED003_NMI = {"pixels": 0.50, "autoencoder": 0.74}
