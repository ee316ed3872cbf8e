import numpy as np
import pytest

from src.tasks.scores import clustering_metrics, hungarian_accuracy, majority_accuracy

rng = np.random.default_rng(0)


def test_perfect_clustering_scores_one():
    labels = rng.integers(0, 10, 1000)
    assert clustering_metrics(labels, labels) == pytest.approx(
        {"acc": 1.0, "acc_majority": 1.0, "nmi": 1.0, "ari": 1.0})


def test_invariant_to_relabelling_clusters():
    labels = rng.integers(0, 10, 1000)
    clusters = np.where(rng.random(1000) < 0.7, labels, rng.integers(0, 10, 1000))
    relabelled = rng.permutation(10)[clusters]
    assert clustering_metrics(relabelled, labels) == pytest.approx(clustering_metrics(clusters, labels))


def test_majority_never_below_hungarian_and_differs_when_clusters_merge():
    labels = np.array([0, 0, 1, 1, 2, 2])
    clusters = np.array([0, 0, 0, 0, 1, 1])  # two classes share cluster 0
    assert hungarian_accuracy(clusters, labels) == pytest.approx(4 / 6)
    assert majority_accuracy(clusters, labels) == pytest.approx(4 / 6)
    clusters = np.array([0, 0, 1, 1, 1, 1])  # cluster 1 holds two classes, cluster 2 is empty
    labels = np.array([0, 0, 0, 1, 1, 1])
    assert hungarian_accuracy(clusters, labels) == pytest.approx(5 / 6)
    assert majority_accuracy(clusters, labels) == pytest.approx(5 / 6)
    for _ in range(20):
        labels, clusters = rng.integers(0, 10, 300), rng.integers(0, 10, 300)
        assert majority_accuracy(clusters, labels) >= hungarian_accuracy(clusters, labels)


def test_majority_exceeds_hungarian_when_two_clusters_share_a_label():
    labels = np.array([0, 0, 0, 0, 1, 1])
    clusters = np.array([0, 0, 1, 1, 2, 2])
    assert majority_accuracy(clusters, labels) == pytest.approx(1.0)
    assert hungarian_accuracy(clusters, labels) == pytest.approx(4 / 6)
