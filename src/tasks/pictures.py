"""The pictures a user judges a clustering by (PNG, labelled), in the run directory.

clusters.png:        one row per cluster: real test images assigned to it (left) and
                     images generated from N(mu_y, I) through the decoder (right).
reconstructions.png: test inputs above, their reconstructions below.

`save_rows` draws labelled strips for the other tasks' pictures (sampling, interpolation).
"""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from src.tasks.base import Task  # noqa: E402


def tile(images: np.ndarray, count: int, pad: int = 2) -> np.ndarray:
    """(n, H, W) in [0, 1] -> one (H, count*(W+pad)) strip; empty slots stay white."""
    h, w = images.shape[-2:]
    strip = np.ones((h, count * (w + pad)), dtype=np.float32)
    for i, img in enumerate(images[:count]):
        strip[:, i * (w + pad): i * (w + pad) + w] = img
    return strip


def save_cluster_grid(model, images, labels, class_names, path: Path, per_row: int = 10, seed: int = 0):
    clusters = model.assign(images).cpu().numpy()
    labels = labels.cpu().numpy()
    generated = model.sample(per_row, generator=torch.Generator().manual_seed(seed)).cpu().numpy()
    k = len(class_names)
    majority = [np.bincount(labels[clusters == c], minlength=k).argmax() if (clusters == c).any()
                else -1 for c in range(k)]
    order = sorted(range(k), key=lambda c: (majority[c] < 0, majority[c]))  # rows read 0..9 when they can

    fig, axes = plt.subplots(k, 2, figsize=(14, 1.0 * k + 0.8), squeeze=False)
    images_np = images.cpu().numpy()[:, 0]
    for row, c in enumerate(order):
        members = clusters == c
        if members.any():
            share = (labels[members] == majority[c]).mean()
            title = f"cluster {c}: {members.sum()} images, {share:.0%} '{class_names[majority[c]]}'"
        else:
            title = f"cluster {c}: empty"
        for col, strip in enumerate((tile(images_np[members], per_row), tile(generated[c, :, 0], per_row))):
            ax = axes[row, col]
            ax.imshow(strip, cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([]), ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(title, rotation=0, ha="right", va="center", fontsize=9)
    axes[0, 0].set_title("real test images assigned to the cluster")
    axes[0, 1].set_title("generated from N(mu_y, I)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def save_rows(rows: list[tuple[str, np.ndarray]], path: Path, count: int) -> None:
    """One labelled strip per row: (name, (n, H, W) images in [0, 1]), `count` slots each."""
    fig, axes = plt.subplots(len(rows), 1, figsize=(count * 0.9, 1.3 * len(rows)), squeeze=False)
    for ax, (name, images) in zip(axes[:, 0], rows):
        ax.imshow(tile(images, count), cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_ylabel(name, rotation=0, ha="right", va="center")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def save_reconstructions(model, images, path: Path, count: int = 12):
    with torch.no_grad():
        recon = model.decode(model.encode(images[:count])).cpu().numpy()[:, 0]
    save_rows([("input", images[:count].cpu().numpy()[:, 0]), ("reconstruction", recon)], path, count)


class Pictures(Task):
    name = "pictures"
    needs = ("assign", "sample", "encode", "decode")

    def __call__(self, model, datamodule, run_dir) -> dict:
        images, labels = datamodule.splits["test"]
        save_cluster_grid(model, images, labels, datamodule.classes, run_dir / "clusters.png", seed=datamodule.seed)
        save_reconstructions(model, images, run_dir / "reconstructions.png")
        return {"files": ["clusters.png", "reconstructions.png"]}
