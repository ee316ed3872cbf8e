"""The clusterings that could start a clustering VAE's clusters, scored on known codes."""
import json

import numpy as np
import pytest

from src.experiments.levers.start import active_dims, main, start_scores, val_acc_at_end


def blobs(dims: int = 20, per_class: int = 100, seed: int = 0):
    """Three well-separated classes on the first two dimensions; the others constant but for
    noise far below the active threshold."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]])
    labels = np.repeat(np.arange(3), per_class)
    codes = np.zeros((len(labels), dims))
    codes[:, :2] = centres[labels] + rng.normal(0, 0.5, (len(labels), 2))
    codes[:, 2:] = rng.normal(0, 0.01, (len(labels), dims - 2))
    return codes, labels


def test_active_dims_counts_the_dimensions_whose_mean_code_varies_over_the_images():
    codes, _ = blobs()
    assert active_dims(codes) == 2


def test_every_clustering_recovers_separated_classes_and_each_projection_is_tried():
    codes, labels = blobs()
    scores = start_scores(codes, labels, k=3, seed=0, dims=(10, 5, 30))
    assert list(scores) == ["kmeans", "kmeans on top 10 principal directions",
                            "kmeans on top 5 principal directions", "Gaussian mixture (diagonal)"]
    for name, s in scores.items():
        assert s["acc"] == pytest.approx(1.0), name
        assert s["nmi"] == pytest.approx(1.0), name


def test_no_runs_is_one_clear_line():
    with pytest.raises(SystemExit) as stop:
        main([])
    assert "runs=" in str(stop.value)


def test_val_acc_at_end_reads_a_finished_run_and_leaves_a_stopped_one_empty(tmp_path):
    assert val_acc_at_end(tmp_path) is None  # stopped before its end: checkpoints, no metrics.json
    (tmp_path / "metrics.json").write_text(json.dumps({"clustering": {"val": {"acc": 0.7594}}}))
    assert val_acc_at_end(tmp_path) == 0.7594
