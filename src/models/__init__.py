"""Models: base.py (the training path every model shares), one module per model, their
parts (parts/), their loss terms (losses.py) and the torch-free checks of their config
keys (rules.py).

`src.models.ClusteringVAE`, `src.models.Autoencoder` and `src.models.DEC` are the `_target_`s of conf/model/; the names are imported on
first use, so that `src.models.rules` can be read without importing torch.
"""
import importlib

_EXPORTS = {"Autoencoder": "src.models.autoencoder", "BaseModel": "src.models.base",
            "ClusteringVAE": "src.models.clustering_vae", "DEC": "src.models.dec"}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'src.models' has no attribute {name!r}")
