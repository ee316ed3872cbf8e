"""What the config keys of each part may be, by `_target_`: checked (src/runtime/config_check.py)
before torch is imported, so that a bad value costs no start-up and leaves nothing behind.

A new part with keys of its own adds its entry here.
"""
PRIORS = ("learned", "standard")  # MixturePrior's prior
KL_ESTIMATORS = ("analytic", "sampled")  # ClusteringVAE's kl_estimator (losses.py)


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def positive_int(meaning: str):
    return lambda v: is_int(v) and v > 0, f"a positive integer ({meaning})"


def one_of(values: tuple):
    return lambda v: v in values, f"one of {list(values)}"


LAYERS = positive_int("conv layers n per stack; the paper uses 1 to 6")
# _target_ -> {key: (predicate, what is allowed)}
RULES = {
    "src.models.ClusteringVAE": {
        "recon_weight": (lambda v: is_number(v) and v > 0, "a number > 0"),
        "kl_estimator": one_of(KL_ESTIMATORS)},
    "src.models.parts.MixturePrior": {
        "latent": positive_int("latent size s"),
        "hidden": positive_int("encoder units m"),
        "classifier_hidden": positive_int("units of the classifier p(y|z)"),
        "prior": one_of(PRIORS)},
    "src.models.parts.ConvEncoder": {"layers": LAYERS},
    "src.models.parts.ConvDecoder": {"layers": LAYERS},
    "torch.optim.Adam": {"lr": (lambda v: is_number(v) and v > 0, "a number > 0 (Adam's learning rate)")},
}
