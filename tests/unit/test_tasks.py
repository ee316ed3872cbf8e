"""The evaluation tasks of src/tasks/ on a small trained autoencoder and the generated data
set: what each writes, the skips, and known cases (a perfect anomaly score has AUC 1, the
probe beats chance on separable data)."""
from functools import partial
from itertools import islice

import numpy as np
import pytest
import torch

from src.data import ImageDataModule
from src.models import Autoencoder
from src.models.parts import Code, DenseDecoder, DenseEncoder, GaussianCode
from src.tasks.base import run_tasks
from src.tasks.latent_map import reduce_to_2d


def trained(datamodule, bottleneck, steps: int = 60) -> Autoencoder:
    size = datamodule.image_size
    model = Autoencoder(DenseEncoder(image_size=size, units=(64,)), DenseDecoder(4, image_size=size, units=(64,)),
                        bottleneck)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    torch.manual_seed(0)
    model.train()
    batches = datamodule.batches("train", datamodule.fit_indices, shuffle=True)
    for x in islice((x for _ in range(steps) for x, _ in batches), steps):
        optimizer.zero_grad(set_to_none=True)
        model.loss_terms(x)["loss"].backward()
        optimizer.step()
    return model.eval()


def module(data_dir, **kwargs) -> ImageDataModule:
    dm = ImageDataModule("mnist", str(data_dir), batch_size=100, limit=2000, **kwargs)
    dm.setup(device=torch.device("cpu"))
    return dm


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    from tests.conftest import generated_data

    dm = module(generated_data())
    return dm, trained(dm, partial(GaussianCode, latent=4)), tmp_path_factory.mktemp("run")


@pytest.mark.slow
def test_sampling_interpolation_and_latent_map_write_their_pictures(vae_run):
    dm, model, run_dir = vae_run
    threads = torch.get_num_threads()
    results = run_tasks(["sampling", "interpolation", "latent_map"], model, dm, run_dir)
    assert torch.get_num_threads() == threads  # UMAP changes it; the task puts it back
    for name, result in results.items():
        assert "skipped" not in result, name
        assert all((run_dir / f).stat().st_size > 0 for f in result["files"]), name
    first, other = results["interpolation"]["test_images"]
    assert dm.splits["test"][1][first] != dm.splits["test"][1][other]
    assert results["latent_map"]["method"] == "umap"
    points = np.load(run_dir / "latent_map.npz")["points"]
    assert points.shape == (len(dm.splits["test"][1]), 2) and np.isfinite(points).all()


def test_a_two_dimensional_code_is_mapped_as_it_is():
    codes = np.random.default_rng(0).normal(size=(50, 2))
    points, method = reduce_to_2d(codes, seed=0)
    assert method == "code" and np.array_equal(points, codes)


def test_tasks_a_run_cannot_serve_are_skipped_with_the_reason(vae_run, data_dir, tmp_path):
    dm, _, _ = vae_run
    plain = trained(dm, partial(Code, latent=4), steps=1)
    results = run_tasks(["sampling", "anomaly"], plain, dm, tmp_path)
    assert "cannot sample" in results["sampling"]["skipped"]
    assert "exclude_class" in results["anomaly"]["skipped"]
    assert not list(tmp_path.iterdir())


def test_anomaly_auc_is_one_for_a_perfect_score_and_high_for_a_class_never_seen(data_dir, tmp_path):
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0  # the convention the task relies on
    dm = module(data_dir, exclude_class=1)
    model = trained(dm, partial(Code, latent=4), steps=150)
    result = run_tasks(["anomaly"], model, dm, tmp_path)["anomaly"]
    assert result["test"]["anomalies"] == int((dm.splits["test"][1] == 1).sum()) > 0
    assert result["test"]["auc"] > 0.6, result  # the left-out pattern reconstructs worse than the others
    assert (tmp_path / "anomaly_roc.png").stat().st_size > 0


def test_linear_probe_beats_chance_on_separable_data_with_both_baselines(vae_run, tmp_path):
    dm, model, _ = vae_run
    result = run_tasks(["linear_probe"], model, dm, tmp_path)["linear_probe"]
    assert result["labelled"] == 550
    for way in ("code", "raw_pixels", "from_scratch"):
        assert 0.3 < result[way]["test_acc"] <= 1.0, (way, result)
        assert 1 <= result[way]["epochs"] <= 300
    before = {k: v.clone() for k, v in model.state_dict().items()}
    run_tasks(["linear_probe"], model, dm, tmp_path)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # the encoder stays frozen


def test_kmeans_on_pixels_needs_no_model_capability_and_finds_the_generated_classes(vae_run, tmp_path):
    dm, model, _ = vae_run
    results = run_tasks(["kmeans", "kmeans_pixels"], model, dm, tmp_path)
    assert results["kmeans_pixels"]["test"]["nmi"] > 0.6, results  # the classes are distinct patterns
    assert results["kmeans"]["test"]["n"] == results["kmeans_pixels"]["test"]["n"] == len(dm.splits["test"][1])
    from src.tasks.base import build
    assert set(build("kmeans_pixels").trial_attrs(results["kmeans_pixels"])) >= {"kmeans_pixels_test_nmi"}
