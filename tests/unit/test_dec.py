"""DEC (src/models/dec.py): its equations on known cases, the k-means start, the stopping
rule, and pretraining then DEC and IDEC through the entry point on the generated data set."""
import json

import pytest
import torch
from sklearn.cluster import KMeans

from src.models.losses import dec_kl, mean_squared_error, student_t_assignment, target_distribution
from tests.conftest import data_env
from tests.helpers.processes import run_module


def test_soft_assignment_rows_sum_to_one_and_favour_the_nearest_centre():
    centres = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 5.0]])
    z = torch.tensor([[0.1, 0.0], [2.9, 0.1], [0.0, 4.0]])
    q = student_t_assignment(z, centres)
    assert torch.allclose(q.sum(1), torch.ones(3))
    assert q.argmax(1).tolist() == [0, 1, 2]
    expected = 1 / (1 + torch.tensor([0.01, 8.41, 25.01]))  # alpha = 1: (1 + d^2)^-1, normalised
    assert torch.allclose(q[0], expected / expected.sum())


def test_the_target_sharpens_q_and_the_kl_is_zero_only_when_p_is_q():
    q = torch.softmax(torch.randn(50, 4, generator=torch.Generator().manual_seed(0)), dim=1)
    p = target_distribution(q, q.sum(0))
    assert torch.allclose(p.sum(1), torch.ones(50))
    assert (p.max(1).values >= q.max(1).values - 1e-6).all()  # each row more confident
    assert float(dec_kl(q, q)) == pytest.approx(0.0, abs=1e-6)
    assert float(dec_kl(p, q)) > 0


def test_idec_reconstruction_is_the_squared_error_per_pixel():
    x = torch.zeros(4, 1, 28, 28)
    assert float(mean_squared_error(x, x + 0.5)) == pytest.approx(0.25)
    x_rec = x.clone()
    x_rec[0, 0, 0, 0] = 1.0  # one pixel of one image wrong by 1
    assert float(mean_squared_error(x, x_rec)) == pytest.approx(1 / (4 * 784))


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    run = tmp_path_factory.mktemp("pretrained")
    result = run_module("src.train", "model=seed003_ae", "latent=10", "epochs=2", "dataset.limit=2000",
                        "batch_size=100", "tasks=[loss]", "objective=loss.val.loss", f"hydra.run.dir={run}",
                        env=data_env())
    assert result.returncode == 0, result.stderr[-3000:]
    return run


def dec_model(pretrained, **kwargs):
    from src.models import DEC

    return DEC(str(pretrained), **kwargs)


def test_kmeans_start_puts_the_centres_where_kmeans_does_and_the_stopping_rule(pretrained):
    model = dec_model(pretrained, tolerance=0.01)
    codes = torch.randn(300, 10, generator=torch.Generator().manual_seed(1))
    model.start_from_kmeans(codes, seed=3)
    reference = KMeans(10, n_init=20, random_state=3).fit(codes.double().numpy())
    assert torch.allclose(model.centres, torch.as_tensor(reference.cluster_centers_, dtype=torch.float32))
    assert model.update_target(codes) == 1.0  # the first update: no earlier assignment
    assert model.update_target(codes) == 0.0  # nothing moved
    assert torch.allclose(model.frequencies, student_t_assignment(codes, model.centres).sum(0))
    moved = codes.clone()
    moved[:30] = model.centres[(model._assignments[:30] + 1) % 10]  # 10% of the images change cluster
    assert model.update_target(moved) == pytest.approx(0.1)


@pytest.mark.slow
@pytest.mark.parametrize("idec", [False, True])
def test_dec_and_idec_train_from_the_pretrained_run_through_the_entry_point(pretrained, tmp_path, idec):
    result = run_module("src.train", "model=dec", f"model.pretrained={pretrained}", "optimizer@model.optimizer=sgd",
                        "lr=0.01", "epochs=2", "dataset.limit=2000", "batch_size=100", "model.update_interval=5",
                        f"model.reconstruction={str(idec).lower()}", "tasks=[loss,clustering,kmeans]",
                        "objective=loss.val.loss", f"hydra.run.dir={tmp_path}", env=data_env())
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert 0.3 < metrics["clustering"]["test"]["acc"] <= 1.0
    assert ("mse" in metrics["loss"]["test"]) == idec


@pytest.mark.parametrize("other", ["dataset.image_size=32", "dataset=fashion_mnist"])
def test_a_pretrained_run_of_other_images_is_refused_before_training(pretrained, tmp_path, other):
    result = run_module("src.train", "model=dec", f"model.pretrained={pretrained}", other, "epochs=1",
                        "dataset.limit=2000", f"hydra.run.dir={tmp_path / 'run'}", env=data_env())
    assert result.returncode == 2
    assert "'model.pretrained'" in result.stderr and "dataset.image_size" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "run").exists()
