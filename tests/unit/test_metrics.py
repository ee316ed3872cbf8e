import numpy as np
import pytest

from src.tasks.scores import clustering_metrics, hungarian_accuracy, majority_accuracy, occupancy

rng = np.random.default_rng(0)


def test_perfect_clustering_scores_one():
    labels = np.repeat(np.arange(10), 100)
    assert clustering_metrics(labels, labels) == pytest.approx(
        {"acc": 1.0, "acc_majority": 1.0, "nmi": 1.0, "ari": 1.0, "smallest_cluster": 0.1,
         "clusters_without_class": 0})


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


def test_occupancy_counts_an_empty_cluster_and_a_class_split_in_two():
    labels = np.repeat(np.arange(10), 10)
    clusters = labels.copy()
    clusters[labels == 9] = 4  # 4 and 9 share cluster 4; cluster 9 is empty
    assert occupancy(clusters, labels, 10) == {"smallest_cluster": 0.0, "clusters_without_class": 1}
    clusters[(labels == 1)] = 9  # cluster 9 now holds the ones, cluster 1 is empty
    clusters[np.flatnonzero(labels == 0)[:5]] = 1  # the zeros split over clusters 0 and 1
    assert occupancy(clusters, labels, 10) == {"smallest_cluster": 0.05, "clusters_without_class": 1}
    # a cluster the model has but the split does not use counts as empty
    assert occupancy(labels, labels, 12) == {"smallest_cluster": 0.0, "clusters_without_class": 2}
