"""Weight initialisations a model may choose (`init` of conf/model/): torch's defaults, or
Keras's (Glorot-uniform kernels, zero biases), which seed 001 trained with."""
from torch import nn

from src.models.rules import INITS

WEIGHTED = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)


def glorot_(module: nn.Module) -> None:
    """Every linear and (transposed) convolution layer: weights ~ U(-a, a) with
    a = sqrt(6 / (fan_in + fan_out)), fan = channels x kernel area (Keras' glorot_uniform;
    for a transposed convolution torch swaps the two fans, which leaves their sum), biases 0."""
    for layer in module.modules():
        if isinstance(layer, WEIGHTED):
            nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


def initialise(module: nn.Module, init: str) -> None:
    if init == "glorot":
        glorot_(module)
    elif init != "torch":
        raise ValueError(f"init must be one of {list(INITS)}, not {init!r}")
