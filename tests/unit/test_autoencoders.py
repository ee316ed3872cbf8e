"""The bake-off's autoencoders (src/models/autoencoder.py, conf/model/bakeoff/): each
bottleneck's term on known cases, the stacked model's freezing, the data options they use,
and every model config through the real entry point on the generated data set."""
import json
import math
from functools import partial

import pytest
import torch

from src.data import ImageDataModule
from src.models import Autoencoder
from src.models.losses import gaussian_kl, mean_squared_error, sparsity_kl, vq_terms
from src.models.parts import Code, DenseDecoder, DenseEncoder, GaussianCode, QuantizedCode, SparseCode
from tests.helpers.processes import ROOT, run_module

MODELS = sorted(p.stem for p in (ROOT / "conf" / "model" / "bakeoff").glob("*.yaml"))


def autoencoder(bottleneck=partial(Code, latent=4), **kwargs) -> Autoencoder:
    return Autoencoder(DenseEncoder(image_size=8, units=(16, 8)), DenseDecoder(4, image_size=8, units=(8, 16)),
                       bottleneck, **kwargs)


def test_sparsity_term_is_zero_at_the_target_and_positive_elsewhere():
    assert float(sparsity_kl(torch.full((5, 3), 0.25), 0.25)) == pytest.approx(0.0, abs=1e-6)
    expected = 3 * (0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5))
    assert float(sparsity_kl(torch.full((5, 3), 0.5), 0.25)) == pytest.approx(expected, rel=1e-5)


def test_beta_scales_the_kl_and_the_kl_of_the_prior_itself_is_zero():
    features = torch.randn(6, 10)
    strict, plain = GaussianCode(10, 3, beta=2.0), GaussianCode(10, 3)
    plain.load_state_dict(strict.state_dict())
    with torch.no_grad():
        (_, p2, t2), (_, p1, t1) = strict(features), plain(features)
    assert float(p2) == pytest.approx(2 * float(p1)) and float(t2["kl"]) == pytest.approx(float(t1["kl"]))
    assert float(gaussian_kl(torch.zeros(4, 3), torch.zeros(4, 3))) == 0.0


def test_vq_code_is_on_the_codebook_and_its_gradient_reaches_the_encoder():
    code = QuantizedCode(10, 3, codes=8)
    features = torch.randn(5, 10)
    quantized, penalty, _ = code(features)
    distance = (quantized.detach().unsqueeze(-1) - code.codebook.detach()).abs().min(-1).values
    assert float(distance.max()) < 1e-6  # every unit at a codebook value (up to the straight-through's rounding)
    quantized.sum().backward()  # the decoder's side only
    assert code.to_code.weight.grad is not None and code.to_code.weight.grad.abs().sum() > 0
    with torch.no_grad():
        encoded = code.to_code(features)
    assert float(penalty.detach()) == pytest.approx(float(vq_terms(encoded, code.quantize(encoded), 1.0)))


def test_stacked_model_trains_only_its_current_pair():
    model = autoencoder(stack_epochs=1)
    model.depth, model.frozen_pairs = 2, 1  # the second stage: the first pair is frozen
    model.freeze_earlier_pairs()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    model.train()
    for _ in range(3):
        optimizer.zero_grad(set_to_none=True)
        model.loss_terms(torch.rand(16, 1, 8, 8))["loss"].backward()
        optimizer.step()
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    frozen = {k for k in before if k.startswith(("encoder.blocks.0.", "decoder.blocks.2."))}
    unused = {k for k in before if k.startswith(("encoder.blocks.2", "bottleneck.", "decoder.blocks.0."))}
    assert changed and not changed & frozen and not changed & unused
    assert {k for k in changed if k.startswith(("encoder.blocks.1.", "decoder.blocks.1."))} == changed
    assert not model.encoder.blocks[0].training  # its batch norm keeps its statistics
    model.on_train_end()  # trained: every pair in use and trainable, as a loaded checkpoint
    assert model.depth == model.pairs and all(p.requires_grad for p in model.parameters())
    assert model.train().encoder.blocks[0].training


def test_only_models_with_a_prior_can_sample():
    assert autoencoder(partial(GaussianCode, latent=4)).can("sample")
    assert autoencoder(partial(QuantizedCode, latent=4)).can("sample")
    assert not autoencoder(partial(SparseCode, latent=4)).can("sample")
    assert not autoencoder().can("assign") and autoencoder().can("encode")
    images = autoencoder(partial(GaussianCode, latent=4)).eval().sample(3, torch.Generator().manual_seed(0))
    assert images.shape == (3, 1, 8, 8)


def test_padding_and_the_excluded_class(data_dir):
    dm = ImageDataModule("mnist", str(data_dir), limit=1000, image_size=32, exclude_class=1)
    dm.setup(device=torch.device("cpu"))
    images, labels = dm.splits["train"]
    assert images.shape[-2:] == (32, 32) and float(images[..., :2, :].abs().sum()) == 0.0
    assert (labels[dm.fit_indices] != 1).all() and (labels[dm.val_indices] != 1).all()
    assert (dm.splits["test"][1] == 1).any()


@pytest.mark.slow
def test_every_bakeoff_model_trains_through_the_entry_point(data_dir, tmp_path):
    for model in MODELS:
        result = run_module("src.train", f"model=bakeoff/{model}", "latent=8", "dataset.image_size=32",
                            "epochs=2", "dataset.limit=600", "batch_size=100", "tasks=[loss,reconstruction,kmeans]",
                            "objective=reconstruction.val.bce", *(["model.stack_epochs=1"] if model == "stacked" else []),
                            f"hydra.run.dir={tmp_path / model}", env={"DATA_DIR": str(data_dir)})
        assert result.returncode == 0, (model, result.stderr[-3000:])
        metrics = json.loads((tmp_path / model / "metrics.json").read_text())
        assert 0 < metrics["reconstruction"]["test"]["bce"] < 1024 * math.log(2) * 2, model
        assert 0.1 < metrics["kmeans"]["test"]["acc"] <= 1.0, model


def test_decs_autoencoder_has_no_batch_norm_a_linear_output_and_trains_on_the_mean_squared_error():
    torch.manual_seed(0)
    model = Autoencoder(DenseEncoder(image_size=8, units=(16,), batch_norm=False),
                        DenseDecoder(4, image_size=8, units=(16,), batch_norm=False, output="linear"),
                        partial(Code, latent=4), reconstruction="mse")
    layers = [type(m) for m in model.modules()]
    assert torch.nn.BatchNorm1d not in layers and torch.nn.Sigmoid not in layers
    assert all(m.bias is not None for m in model.modules() if isinstance(m, torch.nn.Linear))
    x = torch.rand(5, 1, 8, 8)
    with torch.no_grad():
        model.decoder.blocks[-1][0].bias.fill_(2.0)  # outputs above 1: the images are clamped
        raw = model.decoder(model.encode(x))
        terms = model.loss_terms(x)
    assert float(raw.max()) > 1 and float(model.decode(model.encode(x)).max()) == 1.0
    # the loss is the squared error per pixel of the raw output; the metrics read the image
    assert float(terms["loss"]) == pytest.approx(float(mean_squared_error(x, raw)), rel=1e-6)
    assert float(terms["mse"]) == pytest.approx(float((x - raw.clamp(0, 1)).pow(2).sum((1, 2, 3)).mean()), rel=1e-6)
    assert float(mean_squared_error(torch.zeros(2, 1, 4, 4), torch.full((2, 1, 4, 4), 0.5))) == pytest.approx(0.25)


@pytest.mark.slow
def test_decs_autoencoder_trains_through_the_entry_point(data_dir, tmp_path):
    result = run_module("src.train", "model=dec_keras_ae", "optimizer@model.optimizer=sgd", "lr=1.0", "latent=10",
                        "dataset.image_size=28", "epochs=2", "dataset.limit=600", "batch_size=100",
                        "tasks=[loss,reconstruction,kmeans]", "objective=loss.val.loss",
                        f"hydra.run.dir={tmp_path}", env={"DATA_DIR": str(data_dir)})
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert 0 < metrics["loss"]["test"]["loss"] < 0.25  # a mean over pixels in [0, 1]
    assert 0.1 < metrics["kmeans"]["test"]["acc"] <= 1.0


@pytest.mark.parametrize("override, key", [("model.bottleneck.beta=0", "model.bottleneck.beta"),
                                           ("model.decoder.output=tanh", "model.decoder.output"),
                                           ("model.encoder.batch_norm=maybe", "model.encoder.batch_norm"),
                                           ("model.decoder.output=linear", "model.reconstruction"),
                                           ("dataset.exclude_class=10", "dataset.exclude_class"),
                                           ("dataset.image_size=29", "dataset.image_size"),
                                           ("model.encoder.units=[0]", "model.encoder.units")])
def test_bad_values_get_one_paragraph_naming_the_key(override, key, tmp_path):
    result = run_module("src.train", "model=bakeoff/vae", override, f"hydra.run.dir={tmp_path}")
    assert result.returncode != 0
    assert key in result.stderr and "allowed" in result.stderr
