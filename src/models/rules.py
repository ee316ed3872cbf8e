"""What the config keys of each part may be, by `_target_`: checked (src/runtime/config_check.py)
before torch is imported, so that a bad value costs no start-up and leaves nothing behind.

A new part with keys of its own adds its entry here.
"""
PRIORS = ("learned", "standard")  # MixturePrior's prior
KL_ESTIMATORS = ("analytic", "sampled")  # ClusteringVAE's kl_estimator (losses.py)
CLASSIFIER_INPUTS = ("sampled", "mean")  # ClusteringVAE's classifier_input
CLASS_MEANS_INITS = ("zeros", "kmeans")  # ClusteringVAE's class_means_init
PRETRAIN_AS = ("vae", "autoencoder")  # ClusteringVAE's pretrain_as
INITS = ("torch", "glorot")  # ClusteringVAE's init (parts/initialisation.py)
OUTPUTS = ("sigmoid", "linear")  # DenseDecoder's output


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def positive_int(meaning: str):
    return lambda v: is_int(v) and v > 0, f"a positive integer ({meaning})"


def epochs_before_the_end(meaning: str):
    """An epoch count that must leave at least one epoch of the run (`epochs`) after it."""
    return (lambda v, cfg: is_int(v) and 0 <= v < cfg.epochs,
            f"an integer >= 0 and below `epochs` ({meaning})")


def one_of(values: tuple):
    return lambda v: v in values, f"one of {list(values)}"


def autoencoder_run_config(value):
    """The config of a finished run directory of an autoencoder (DEC's `pretrained`: its
    config.yaml names src.models.Autoencoder and its final checkpoint is there), else None."""
    from pathlib import Path

    from omegaconf import OmegaConf

    from src.runtime.resume import CHECKPOINT

    if not isinstance(value, str) or value == "???" or not (Path(value) / "config.yaml").is_file():
        return None
    if not (Path(value) / CHECKPOINT).is_file():
        return None
    cfg = OmegaConf.load(Path(value) / "config.yaml")
    return cfg if cfg.model.get("_target_") == "src.models.Autoencoder" else None


def is_autoencoder_run_of_this_data(value, cfg) -> bool:
    """A finished autoencoder run (autoencoder_run_config) trained on this run's data set and
    image size: its encoder reads images of that size, and its code means nothing on other images."""
    theirs = autoencoder_run_config(value)
    return theirs is not None and \
        (theirs.dataset.name, theirs.dataset.image_size) == (cfg.dataset.name, cfg.dataset.image_size)


BOOL = (lambda v: isinstance(v, bool), "true or false")
CODE_ACTIVATIONS = (None, "relu", "sigmoid")  # Code's activation
CODE_SIZE = positive_int("code size")
UNITS = (lambda v: v is not None and len(v) <= 8 and all(is_int(u) and 0 < u <= 10_000 for u in v),
         "a list of at most 8 integers from 1 to 10,000 (units of the hidden layers), [] for none")
LAYERS = positive_int("conv layers n per stack; the paper uses 1 to 6")
# _target_ -> {key: (predicate, what is allowed)}
RULES = {
    "src.models.ClusteringVAE": {
        "recon_weight": (lambda v: is_number(v) and v > 0, "a number > 0"),
        "kl_estimator": one_of(KL_ESTIMATORS),
        "classifier_input": one_of(CLASSIFIER_INPUTS),
        "init": one_of(INITS),
        "balance_weight": (lambda v: is_number(v) and v >= 0, "a number >= 0 (0: no balance term)"),
        "kl_warmup_epochs": (lambda v: is_int(v) and v >= 0, "an integer >= 0 (0: no KL warm-up)"),
        "class_means_init": one_of(CLASS_MEANS_INITS),
        "pretrain_as": one_of(PRETRAIN_AS),
        # > 0: without a KL term the log-variance head overflows (losses.warmup_weight)
        "pretrain_kl_weight": (lambda v: is_number(v) and v > 0, "a number > 0 (1: a plain VAE while pretraining)")},
    "src.models.parts.MixturePrior": {
        "latent": positive_int("latent size s"),
        "hidden": (lambda v: v is None or (is_int(v) and v > 0),
                   "a positive integer (encoder units m), or null for no hidden layer (seed 001)"),
        "classifier_hidden": positive_int("units of the classifier p(y|z)"),
        "prior": one_of(PRIORS)},
    "src.models.Autoencoder": {
        "input_noise": (lambda v: is_number(v) and v >= 0, "a number >= 0 (std of the training inputs' noise; 0: none)"),
        "stack_epochs": (lambda v: is_int(v) and v >= 0, "an integer >= 0 (epochs per stacked layer pair; 0: not stacked)")},
    "src.models.DEC": {
        "alpha": (lambda v: is_number(v) and v > 0, "a number > 0 (the Student-t's degrees of freedom)"),
        "update_interval": positive_int("training steps between target updates"),
        "tolerance": (lambda v: is_number(v) and 0 <= v < 1, "a number from 0 to 1 (share of changed assignments)"),
        "reconstruction": (lambda v: isinstance(v, bool), "true (IDEC) or false (DEC)"),
        "gamma": (lambda v: is_number(v) and v > 0, "a number > 0 (IDEC's clustering weight)")},
    "torch.optim.SGD": {"lr": (lambda v: is_number(v) and v > 0, "a number > 0 (SGD's learning rate)"),
                        "momentum": (lambda v: is_number(v) and 0 <= v < 1, "a number from 0 to 1")},
    "src.models.parts.Code": {"latent": CODE_SIZE,
                              "activation": one_of(CODE_ACTIVATIONS)},
    "src.models.parts.SparseCode": {"latent": CODE_SIZE,
                                    "target": (lambda v: is_number(v) and 0 < v < 1, "a number between 0 and 1 (target mean activation)"),
                                    "weight": (lambda v: is_number(v) and v >= 0, "a number >= 0")},
    "src.models.parts.GaussianCode": {"latent": CODE_SIZE,
                                      "beta": (lambda v: is_number(v) and v > 0, "a number > 0 (the KL's weight)")},
    "src.models.parts.QuantizedCode": {"latent": CODE_SIZE, "codes": positive_int("codebook size"),
                                       "commitment": (lambda v: is_number(v) and v >= 0, "a number >= 0")},
    "src.models.parts.DenseEncoder": {"units": UNITS, "batch_norm": BOOL},
    "src.models.parts.DenseDecoder": {"units": UNITS, "batch_norm": BOOL, "output": one_of(OUTPUTS)},
    "src.models.parts.ConvEncoder": {"layers": LAYERS},
    "src.models.parts.ConvDecoder": {"layers": LAYERS},
    "torch.optim.Adam": {"lr": (lambda v: is_number(v) and v > 0, "a number > 0 (Adam's learning rate)")},
    "torch.optim.lr_scheduler.CosineAnnealingLR": {"T_max": positive_int("epochs of the cosine's half period")},
}
# Keys whose allowed values depend on the rest of the config: (ok(value, cfg), what is allowed).
RELATIVE_RULES = {
    "src.models.ClusteringVAE": {
        "pretrain_epochs": epochs_before_the_end("epochs pretrained first, see pretrain_as; 0: none")},
    "src.models.Autoencoder": {
        "reconstruction": (lambda v, cfg: v == "mse" or (v == "bce" and cfg.model.decoder.get("output") != "linear"),
                           "bce or mse with model.decoder.output=sigmoid; mse with output=linear (a binary "
                           "cross-entropy needs outputs in (0, 1))")},
    "src.models.DEC": {
        "pretrained": (is_autoencoder_run_of_this_data,
                       "a finished run directory of an autoencoder (config.yaml naming src.models.Autoencoder, "
                       "e.g. of model=seed003_ae, and checkpoints/last.ckpt) trained on this run's `dataset` "
                       "and `dataset.image_size`: the pretraining DEC starts from")},
}
