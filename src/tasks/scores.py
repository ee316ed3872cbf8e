"""Scores over a split. Clustering metrics: cluster ids are arbitrary, so accuracy needs a
cluster -> label map.

- `acc`: Hungarian one-to-one matching (the field's standard ACC).
- `acc_majority`: each cluster takes its most frequent label (purity), as seed 001
  and, presumably, the paper. Always >= `acc`.
- occupancy: `smallest_cluster`, the smallest cluster's share of the split (0 for an empty
  one), and `clusters_without_class`, how many of the K clusters are no class's majority
  cluster (empty, or sharing their majority class with another cluster): the failure of a
  digit taking two clusters while another gets none.
"""
import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score


def contingency(clusters: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """counts[c, l] = number of samples in cluster c with label l."""
    n_clusters = int(max(clusters.max(), labels.max())) + 1
    counts = np.zeros((n_clusters, n_clusters), dtype=np.int64)
    np.add.at(counts, (clusters, labels), 1)
    return counts


def hungarian_accuracy(clusters: np.ndarray, labels: np.ndarray, counts: np.ndarray | None = None) -> float:
    counts = contingency(clusters, labels) if counts is None else counts
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / len(labels))


def majority_accuracy(clusters: np.ndarray, labels: np.ndarray, counts: np.ndarray | None = None) -> float:
    counts = contingency(clusters, labels) if counts is None else counts
    return float(counts.max(axis=1).sum() / len(labels))


def occupancy(clusters: np.ndarray, labels: np.ndarray, num_clusters: int,
              counts: np.ndarray | None = None) -> dict[str, float]:
    sizes = np.bincount(clusters, minlength=num_clusters)
    counts = contingency(clusters, labels) if counts is None else counts
    majorities = {int(counts[c].argmax()) for c in np.flatnonzero(sizes)}
    return {"smallest_cluster": float(sizes.min() / len(labels)),
            "clusters_without_class": num_clusters - len(majorities)}


def clustering_metrics(clusters, labels, num_clusters: int | None = None) -> dict[str, float]:
    """num_clusters: the K clusters a model has (default: one per label seen)."""
    clusters = np.asarray(clusters, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    counts = contingency(clusters, labels)  # `counts`: the one table the three scores read
    return {
        "acc": hungarian_accuracy(clusters, labels, counts),
        "acc_majority": majority_accuracy(clusters, labels, counts),
        "nmi": float(normalized_mutual_info_score(labels, clusters)),
        "ari": float(adjusted_rand_score(labels, clusters)),
        **occupancy(clusters, labels, num_clusters or int(labels.max()) + 1, counts),
    }


class SplitAccumulator:
    """Sums loss terms and collects cluster assignments batch by batch, on the device;
    `compute` reads them back once. `clusters` is None for a model that does not assign."""

    def __init__(self):
        self.sums: dict = {}
        self.count = 0
        self.clusters: list = []
        self.labels: list = []

    def update(self, terms: dict, clusters, labels) -> None:
        n = len(labels)
        for key, value in terms.items():
            self.sums[key] = self.sums.get(key, 0) + value.detach().float() * n  # bf16 sums lose digits
        self.count += n
        if clusters is not None:
            self.clusters.append(clusters)
            self.labels.append(labels)

    def compute(self) -> dict[str, float]:
        import torch

        result = {k: float(v) / self.count for k, v in self.sums.items()}
        if self.clusters:
            result.update(clustering_metrics(torch.cat(self.clusters).cpu().numpy(),
                                             torch.cat(self.labels).cpu().numpy()))
        result["n"] = self.count
        return result
