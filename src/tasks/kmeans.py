"""k-means on the code (seed 003's pipeline): scikit-learn's KMeans (n_init 20, one cluster
per class) fitted on the codes of the images trained on, then the held-out and test codes
assigned to the nearest centre and scored like a clustering (src/tasks/scores.py).
`kmeans_pixels` does the same on the raw pixels: seed 003's baseline.

Labels are used here, to score; never in fitting."""
import torch

from src.tasks.base import Task, splits
from src.tasks.scores import clustering_metrics

SCORES = ("acc", "acc_majority", "nmi", "ari")


def fit_kmeans(features, k: int, seed: int, n_init: int = 20):
    """scikit-learn's KMeans on `features` (float64 numpy): this task's and DEC's start
    (src/models/dec.py) with 20 restarts, the clustering VAE's k-means start
    (src/models/clustering_vae.py) and the start tool (src/experiments/levers/start.py) with 10."""
    from sklearn.cluster import KMeans

    return KMeans(k, n_init=n_init, random_state=seed).fit(features)


class KMeansOnCode(Task):
    name = "kmeans"
    needs = ("encode",)

    def features(self, model, x) -> torch.Tensor:
        return model.encode(x)

    def features_of(self, model, batches):
        features, labels = zip(*((self.features(model, x), y) for x, y in batches))
        return torch.cat(features).cpu().double().numpy(), torch.cat(labels).cpu().numpy()

    def __call__(self, model, datamodule, run_dir) -> dict:
        fit, _ = self.features_of(model, datamodule.batches("train", datamodule.fit_indices))
        kmeans = fit_kmeans(fit, datamodule.num_classes, datamodule.seed)
        results = {}
        for split, batches in splits(datamodule, ("val", "test")).items():
            features, labels = self.features_of(model, batches)
            results[split] = {**clustering_metrics(kmeans.predict(features), labels, datamodule.num_classes),
                              "n": len(labels)}
        return results

    def trial_attrs(self, result: dict) -> dict:
        return {f"{self.name}_{split}_{score}": result[split][score] for split in ("val", "test") for score in SCORES}


class KMeansOnPixels(KMeansOnCode):
    name = "kmeans_pixels"
    needs = ()

    def features(self, model, x) -> torch.Tensor:
        return x.flatten(1)
