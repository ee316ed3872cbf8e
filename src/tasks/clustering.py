"""Clustering scores of each split: acc (Hungarian), acc_majority, nmi, ari and the clusters'
occupancy (src/tasks/scores.py).

Labels are used here, to score; never in training."""
import torch

from src.tasks.base import Task, splits
from src.tasks.scores import clustering_metrics

SCORES = ("acc", "acc_majority", "nmi", "ari", "smallest_cluster", "clusters_without_class")


class Clustering(Task):
    name = "clustering"
    needs = ("assign",)

    def __call__(self, model, datamodule, run_dir) -> dict:
        results = {}
        for split, batches in splits(datamodule).items():
            clusters, labels = zip(*((model.assign(x), y) for x, y in batches))
            clusters, labels = torch.cat(clusters).cpu().numpy(), torch.cat(labels).cpu().numpy()
            results[split] = {**clustering_metrics(clusters, labels, datamodule.num_classes), "n": len(labels)}
        return results

    def trial_attrs(self, result: dict) -> dict:
        return {f"{split}_{score}": scores[score] for split, scores in result.items() for score in SCORES}
