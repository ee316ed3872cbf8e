"""How well a clustering of a pretrained run's code would start the clusters: k-means on the
posterior means of the images the run trained on (what `class_means_init=kmeans` does), the
same on the code's top principal directions, and a diagonal Gaussian mixture; each scored
against those images' labels (Hungarian, majority, NMI), beside the code's active dimensions
(variance of the posterior mean over the images above 0.01, Burda et al. 2016). The labels
only score: nothing here trains or chooses by them.

    python -m src.experiments.levers.start runs=[<run dir>,...] [dims=[10,5]] [out=<folder>]

`out`: start.csv and start.md (the table and the command) there. Rebuilding needs the runs'
checkpoints, which stay in their run directories.

A run of `levers=kmeans_vae20_glorot epochs=21` records the model's own start in its history
(`kmeans_start_*`, metrics.json) and ends one clustering epoch later: its final weights are
the code k-means saw, moved by that one epoch (`epochs` must exceed the 20 pretraining epochs).
The column `val acc at end` is the run's own validation accuracy (Hungarian) when it ended,
from its metrics.json: what a sweep over such runs would choose settings by (empty for a run
stopped before its end).
"""
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from omegaconf import OmegaConf

from src.runtime.errors import UserError
from src.tasks.kmeans import fit_kmeans
from src.tasks.scores import clustering_metrics

DEFAULTS = {"runs": [], "dims": [10, 5], "out": None, "data_dir": None}
ACTIVE = 0.01  # Burda et al.'s threshold on Cov_x(E_q[z_d])


def active_dims(codes: np.ndarray) -> int:
    return int((codes.var(axis=0) > ACTIVE).sum())


def start_scores(codes: np.ndarray, labels: np.ndarray, k: int, seed: int, dims=(10, 5)) -> dict[str, dict]:
    """{clustering: its scores against `labels`} for each way of starting the clusters."""
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    clusterings = {"kmeans": fit_kmeans(codes, k, seed, n_init=10).labels_}  # as the model's start
    for d in dims:
        if d < codes.shape[1]:
            projected = PCA(d, random_state=seed).fit_transform(codes)
            clusterings[f"kmeans on top {d} principal directions"] = fit_kmeans(projected, k, seed, n_init=10).labels_
    clusterings["Gaussian mixture (diagonal)"] = GaussianMixture(
        k, covariance_type="diag", n_init=1, random_state=seed).fit(codes).predict(codes)
    return {name: clustering_metrics(c, labels, k) for name, c in clusterings.items()}


def pretraining(hparams) -> str:
    """What trained the code before the start (from the model's hyperparameters, its own
    defaults filled in for runs older than a key): `vae, 20 epochs, KL weight 1` and the like."""
    if not hparams.pretrain_epochs:
        return "none"
    if hparams.pretrain_as == "autoencoder":
        return f"autoencoder, {hparams.pretrain_epochs} epochs"
    return f"vae, {hparams.pretrain_epochs} epochs, KL weight {hparams.pretrain_kl_weight:g}"


def val_acc_at_end(run_dir: Path) -> float | None:
    """The run's validation accuracy from its metrics.json; None for a run stopped before its
    end (its checkpoints are there, its metrics.json is not)."""
    path = run_dir / "metrics.json"
    return json.loads(path.read_text())["clustering"]["val"]["acc"] if path.is_file() else None


def run_rows(run_dir: Path, dims, data_dir: str | None) -> list[dict]:
    from src.runs import load_run

    cfg, datamodule, model = load_run(run_dir, data_dir=data_dir)
    if not hasattr(model, "bottleneck") or not hasattr(model.bottleneck, "class_means"):
        raise UserError(f"runs: {run_dir} is a run of {cfg.model._target_}, which has no clusters to "
                        "start; give runs of a clustering VAE (model=conv_vae, flat_vae or seed001).")
    with torch.no_grad():
        codes, labels = zip(*((model.encode(x), y) for x, y in datamodule.batches("train", datamodule.fit_indices)))
    codes, labels = torch.cat(codes).double().numpy(), torch.cat(labels).numpy()
    settings = {"run": str(run_dir), "dataset": cfg.dataset.name, **model.identity, "seed": cfg.seed,
                "epochs": cfg.epochs, "pretraining": pretraining(model.hparams), "active dims": active_dims(codes),
                "val acc at end": val_acc_at_end(run_dir)}
    scores = start_scores(codes, labels, datamodule.num_classes, cfg.seed, dims)
    return [{**settings, "clustering": name, **{k: s[k] for k in ("acc", "acc_majority", "nmi")}}
            for name, s in scores.items()]


def main(argv=None) -> None:
    cfg = OmegaConf.merge(DEFAULTS, OmegaConf.from_cli(list(sys.argv[1:] if argv is None else argv)))
    if not cfg.runs:
        sys.exit("error: runs=[<run dir>,...]: give at least one finished run of a clustering VAE.")
    try:
        table = pd.DataFrame([row for run in cfg.runs for row in run_rows(Path(run), cfg.dims, cfg.data_dir)])
    except UserError as error:
        sys.exit(f"error: {error}")
    text = table.drop(columns="run").to_markdown(index=False, floatfmt=".4f")
    if cfg.out:
        out = Path(cfg.out)
        out.mkdir(parents=True, exist_ok=True)
        table.to_csv(out / "start.csv", index=False, float_format="%.4f")
        command = "python -m src.experiments.levers.start " + " ".join(
            f"{k}=[{','.join(map(str, v))}]" if OmegaConf.is_list(v) else f"{k}={v}"
            for k, v in cfg.items() if v is not None and k != "data_dir")
        (out / "start.md").write_text(
            "# How a clustering of the code would start the clusters\n\nScored on the training images "
            "the runs trained on (their labels only score); runs in start.csv.\n\n"
            f"{text}\n\nCommand: `{command}`\n")
    print(text)


if __name__ == "__main__":
    main()
