"""A minimal Hydra app, not the project's trainer, configured as the official
hydra-optuna-sweeper documentation shows: the sweeper must plug into any Hydra app.

FAIL_AT=x makes the trial with that x raise.
"""
import os

import hydra
from omegaconf import DictConfig


@hydra.main(version_base=None, config_path="conf", config_name="config")
def sphere(cfg: DictConfig) -> float:
    if os.environ.get("FAIL_AT") == str(cfg.x):
        raise RuntimeError(f"asked to fail at x={cfg.x}")
    return cfg.x ** 2 + cfg.y ** 2


if __name__ == "__main__":
    sphere()
