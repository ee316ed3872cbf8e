"""k-means on the code (seed 003's pipeline): scikit-learn's KMeans (n_init 20, one cluster
per class) fitted on the codes of the images trained on, then the held-out and test codes
assigned to the nearest centre and scored like a clustering (src/tasks/scores.py).

Labels are used here, to score; never in fitting."""
import torch

from src.tasks.base import Task, splits
from src.tasks.scores import clustering_metrics

SCORES = ("acc", "acc_majority", "nmi", "ari")


def codes_of(model, batches):
    codes, labels = zip(*((model.encode(x), y) for x, y in batches))
    return torch.cat(codes).cpu().double().numpy(), torch.cat(labels).cpu().numpy()


class KMeansOnCode(Task):
    name = "kmeans"
    needs = ("encode",)

    def __call__(self, model, datamodule, run_dir) -> dict:
        from sklearn.cluster import KMeans

        fit_codes, _ = codes_of(model, datamodule.batches("train", datamodule.fit_indices))
        kmeans = KMeans(datamodule.num_classes, n_init=20, random_state=datamodule.seed).fit(fit_codes)
        results = {}
        for split, batches in splits(datamodule, ("val", "test")).items():
            codes, labels = codes_of(model, batches)
            results[split] = {**clustering_metrics(kmeans.predict(codes), labels, datamodule.num_classes),
                              "n": len(labels)}
        return results

    def trial_attrs(self, result: dict) -> dict:
        return {f"kmeans_{split}_{score}": result[split][score] for split in ("val", "test") for score in SCORES}
