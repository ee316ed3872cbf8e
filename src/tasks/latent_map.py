"""Latent map: the test set's codes in two dimensions, coloured by label, as latent_map.png
(and the points in latent_map.npz, for figures across runs). A 2-D code is drawn as it is;
a larger one is reduced by UMAP (umap-learn, seeded by the run's seed, so on one
thread). Labels only colour
the points."""
import numpy as np

from src.tasks.base import Task, splits
from src.tasks.kmeans import KMeansOnCode


def reduce_to_2d(codes: np.ndarray, seed: int) -> tuple[np.ndarray, str]:
    if codes.shape[1] <= 2:
        return np.pad(codes, ((0, 0), (0, 2 - codes.shape[1]))), "code"
    import torch
    import umap  # imported here: numba's start-up takes seconds

    threads = torch.get_num_threads()
    try:
        return umap.UMAP(n_components=2, random_state=seed, n_jobs=1).fit_transform(codes), "umap"
    finally:
        # UMAP's fit leaves torch with another thread count (2 after 1 on a 2-core machine),
        # which made every later torch step of the process ~80x slower there.
        torch.set_num_threads(threads)


def save_map(points: np.ndarray, labels: np.ndarray, classes: list[str], title: str, path) -> None:
    import matplotlib.pyplot as plt  # the Agg backend is chosen by src.tasks.pictures

    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    for k, name in enumerate(classes):
        chosen = labels == k
        ax.scatter(points[chosen, 0], points[chosen, 1], s=2, color=plt.cm.tab10(k), label=name)
    ax.legend(markerscale=5, fontsize=8, loc="center left", bbox_to_anchor=(1, 0.5))
    ax.set_title(title)
    ax.set_xticks([]), ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


class LatentMap(Task):
    name = "latent_map"
    needs = ("encode",)

    def __call__(self, model, datamodule, run_dir) -> dict:
        import src.tasks.pictures  # noqa: F401  (matplotlib's Agg backend)

        codes, labels = KMeansOnCode().features_of(model, splits(datamodule, ("test",))["test"])
        points, method = reduce_to_2d(codes, datamodule.seed)
        np.savez_compressed(run_dir / "latent_map.npz", points=points.astype(np.float32), labels=labels)
        title = f"test codes ({codes.shape[1]}-d{', UMAP' if method == 'umap' else ''})"
        save_map(points, labels, datamodule.classes, title, run_dir / "latent_map.png")
        return {"files": ["latent_map.png", "latent_map.npz"], "method": method, "n": len(labels)}
