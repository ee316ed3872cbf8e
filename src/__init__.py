"""VAE clustering with Hydra configs and Optuna sweeps."""
