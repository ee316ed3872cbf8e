"""Models and their parts: shapes, the parts' contract, the loss, checkpoints of earlier versions."""
from functools import partial
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf

from src.data import ImageDataModule
from src.models import ClusteringVAE
from src.models.clustering_vae import V2_KEYS
from src.models.parts import (
    ConvDecoder,
    ConvEncoder,
    FlatDecoder,
    FlatEncoder,
    MixturePrior,
    StridedConvDecoder,
    StridedConvEncoder,
)
from src.models.parts.layout import channels_last_flat, channels_last_unflat
from tests.helpers.processes import ROOT


def clustering_vae(layers: int | None, latent: int, hidden: int, **kwargs) -> ClusteringVAE:
    """The conv model with `layers`, the flat one with None."""
    encoder, decoder = (ConvEncoder(layers), ConvDecoder(layers)) if layers else (FlatEncoder(), FlatDecoder())
    prior = kwargs.pop("prior", "learned")
    return ClusteringVAE(encoder, decoder, partial(MixturePrior, latent=latent, hidden=hidden, prior=prior), **kwargs)


@pytest.mark.parametrize("layers", range(1, 7))
def test_conv_vae_shapes_for_every_layer_count(layers):
    model = clustering_vae(layers, latent=7, hidden=32)
    x = torch.rand(5, 1, 28, 28)
    assert model.decode(model.encode(x)).shape == x.shape
    assert model.encode(x).shape == (5, 7)
    assert model.assign(x).shape == (5,)
    assert model.sample(3).shape == (10, 3, 1, 28, 28)
    assert set(model.loss_terms(x)) == {"loss", "recon", "kl", "cat", "balance", "paper_loss"}
    # spliced data = Con_Layer1 (16 channels) + Con_Layer2 (32 channels); ceil pooling keeps size >= 1
    size1 = [28, 14, 7, 4, 2, 1, 1][layers]
    size2 = [size1, -(-size1 // 2), -(-size1 // 4), -(-size1 // 8), -(-size1 // 16),
             -(-size1 // 32), -(-size1 // 64)][layers]
    expected = 16 * size1 ** 2 + 32 * size2 ** 2
    assert model.encoder.out_features == expected == model.encoder(x).shape[1]
    assert model.decoder.in_features == 16 * size1 ** 2


def test_the_decoder_reads_con_layer1_in_the_order_the_encoder_flattens_it():
    encoder = ConvEncoder(layers=2)
    h1 = encoder.con_layer1(torch.rand(3, 1, 28, 28).contiguous(memory_format=torch.channels_last))
    assert torch.equal(channels_last_unflat(channels_last_flat(h1), encoder.shape1), h1)
    # no copy of the activation on the way in or out (the reason for this order)
    assert channels_last_flat(h1).data_ptr() == h1.data_ptr()
    assert channels_last_unflat(channels_last_flat(h1), encoder.shape1).data_ptr() == h1.data_ptr()


# --- the parts' contract -------------------------------------------------------------------
PARTS = {
    "ConvEncoder n=1": lambda: ConvEncoder(1), "ConvEncoder n=3": lambda: ConvEncoder(3),
    "FlatEncoder": FlatEncoder,
    "ConvDecoder n=1": lambda: ConvDecoder(1), "ConvDecoder n=3": lambda: ConvDecoder(3),
    "FlatDecoder": FlatDecoder,
    "StridedConvEncoder": StridedConvEncoder, "StridedConvDecoder": StridedConvDecoder,
}


def part_input(part, n: int) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28) if hasattr(part, "out_features") else torch.randn(n, part.in_features)


@pytest.mark.parametrize("name", list(PARTS))
def test_every_part_keeps_the_contract(name):
    """Output shape as declared, each image's output independent of the rest of its batch,
    and every trainable parameter reached by the gradient."""
    torch.manual_seed(0)
    part = PARTS[name]()
    x = part_input(part, 6).requires_grad_(True)
    out = part(x)
    if hasattr(part, "out_features"):
        assert out.shape == (6, part.out_features)
    else:
        assert out.shape == (6, 1, 28, 28) and 0 <= float(out.min()) and float(out.max()) <= 1
    assert torch.allclose(part(x[:2]), out[:2], atol=1e-6)  # batch independence
    out.sum().backward()
    assert x.grad is not None and bool(x.grad.abs().sum() > 0)  # the gradient flows through
    for pname, p in part.named_parameters():
        assert p.grad is not None and bool(p.grad.abs().sum() > 0), pname


@pytest.mark.parametrize("hidden", [16, None])
def test_the_bottleneck_keeps_the_contract(hidden):
    torch.manual_seed(0)
    b = MixturePrior(in_features=40, out_features=30, latent=5, hidden=hidden)
    features = torch.randn(6, 40)
    mu, logvar = b.posterior(features)
    assert mu.shape == logvar.shape == (6, 5)
    assert torch.allclose(b.posterior(features[:2])[0], mu[:2], atol=1e-6)
    z = b.sample(mu, logvar)
    probs = b.class_probs(z)
    assert probs.shape == (6, 10) and torch.allclose(probs.sum(1), torch.ones(6))
    assert b.decode(z).shape == (6, 30) and b.assign(mu).shape == (6,)
    assert b.prior_samples(4).shape == (10, 4, 5)
    (b.decode(z).sum() + (probs * torch.log(probs)).sum() + (b.class_means.unsqueeze(0) - z.unsqueeze(1)).pow(2)
     .sum()).backward()
    for pname, p in b.named_parameters():
        assert p.grad is not None and bool(p.grad.abs().sum() > 0), pname


MODEL_CONFIGS = sorted(str(p.relative_to(ROOT / "conf" / "model").with_suffix(""))
                       for p in (ROOT / "conf" / "model").rglob("*.yaml") if p.parent.name != "base")


@pytest.fixture(scope="module")
def autoencoder_run(tmp_path_factory) -> Path:
    """A run directory holding an untrained seed 003 autoencoder: what model=dec starts from."""
    run = tmp_path_factory.mktemp("autoencoder_run")
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=["model=seed003_ae", "latent=4"])
    OmegaConf.save({"model": OmegaConf.to_container(cfg.model, resolve=True)}, run / "config.yaml")
    (run / "checkpoints").mkdir()
    torch.save({"state_dict": instantiate(cfg.model, num_classes=10).state_dict()}, run / "checkpoints" / "last.ckpt")
    return run


@pytest.mark.parametrize("name", MODEL_CONFIGS)
def test_every_model_config_builds_and_trains_one_step(name, request):
    extra = [f"model.pretrained={request.getfixturevalue('autoencoder_run')}"] if name == "dec" else []
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=[f"model={name}", "latent=4", "hidden=16", "layers=2", "model.compile=false",
                                          *extra])
    torch.manual_seed(0)
    model = instantiate(cfg.model, num_classes=10)
    optimizer = model.configure_optimizers()
    x = torch.rand(8, 1, 28, 28)
    before = [p.detach().clone() for p in model.parameters()]
    terms = model.loss_terms(x)
    assert torch.isfinite(terms["loss"])
    terms["loss"].backward()
    optimizer.step()
    assert all(not torch.equal(b, p) for b, p in zip(before, model.parameters()))
    assert "latent" in model.identity


@pytest.mark.slow
def test_compile_option_compiles_the_training_step():
    from torch._dynamo.utils import counters

    counters.clear()
    model = clustering_vae(None, latent=4, hidden=16, compile=True)
    x = torch.rand(8, 1, 28, 28)
    loss = model.training_step((x, torch.zeros(8, dtype=torch.long)), 0)
    loss.backward()
    assert counters["stats"]["unique_graphs"] >= 1  # the step ran through torch.compile
    assert torch.isfinite(loss) and model.bottleneck.to_hidden.weight.grad is not None


def test_standard_prior_is_fixed_at_zero():
    model = clustering_vae(None, latent=4, hidden=16, prior="standard")
    assert "bottleneck.class_means" not in dict(model.named_parameters())
    assert torch.equal(model.bottleneck.class_means, torch.zeros(10, 4))


# --- checkpoints of earlier versions -------------------------------------------------------
def as_version(state: dict, version: int) -> dict:
    """Today's state dict under version 2's keys (one `backbone`, flat attribute names)."""
    old = type(state)()
    for key, value in state.items():
        new = next(n for n in V2_KEYS.values() if key.startswith(n))
        old[next(o for o, n in V2_KEYS.items() if n == new) + key[len(new):]] = value
    old._metadata = {"": {"version": version}}
    return old


def test_a_version_2_checkpoint_loads_to_the_same_model():
    torch.manual_seed(0)
    model = clustering_vae(2, latent=4, hidden=16).eval()
    state = as_version(model.state_dict(), 2)
    assert "backbone.con_layer1.0.weight" in state and "encoder.weight" in state
    loaded = clustering_vae(2, latent=4, hidden=16).eval()
    loaded.load_state_dict(state)
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(loaded.encode(x), model.encode(x))
        assert torch.equal(loaded.sample(2, torch.Generator().manual_seed(0)),
                           model.sample(2, torch.Generator().manual_seed(0)))


@pytest.mark.parametrize("layers", [1, 3])
def test_a_checkpoint_in_the_earlier_channel_first_order_loads_to_the_same_model(layers):
    """Checkpoints written before version 2 flattened the conv features (and read the
    decoded vector) in (channel, height, width) order; loading one must give the model it was."""
    torch.manual_seed(0)
    old = clustering_vae(layers, latent=4, hidden=16).eval()
    new = clustering_vae(layers, latent=4, hidden=16).eval()
    new.load_state_dict(as_version(old.state_dict(), 1))

    x, z = torch.rand(3, 1, 28, 28), torch.randn(3, 4)
    b = old.bottleneck
    with torch.no_grad():  # the earlier forward: .flatten(1) and .view(-1, C, H, W) are (C, H, W) order
        h1 = old.encoder.con_layer1(x)
        h2 = old.encoder.con_layer2(h1)
        mean = b.mean_head(b.to_hidden(torch.cat([h1.flatten(1), h2.flatten(1)], dim=1)))
        decoded = torch.relu(b.from_latent(z)).view(-1, *old.decoder.shape)
        image = old.decoder.tran_con_layer1(decoded)
        assert torch.allclose(new.encode(x), mean, atol=1e-5)
        assert torch.allclose(new.decode(z), image, atol=1e-5)
        assert not torch.allclose(old.decode(z), image, atol=1e-3)  # the order does matter
    assert new.state_dict()._metadata[""]["version"] == 3


# --- the loss --------------------------------------------------------------------------------
@pytest.mark.parametrize("kl_estimator", ["analytic", "sampled"])
@pytest.mark.parametrize("layers", [2, None], ids=["conv", "flat"])
def test_losses_finite_and_falling_on_real_images(real_data_dir, layers, kl_estimator):
    dm = ImageDataModule("mnist", str(real_data_dir), batch_size=100, limit=300, val_size=1)
    dm.prepare_data()
    dm.setup(device=torch.device("cpu"))
    x = dm.splits["train"][0][:100]
    torch.manual_seed(0)
    model = clustering_vae(layers, latent=10, hidden=128, kl_estimator=kl_estimator)
    opt = model.configure_optimizers()
    losses = []
    for _ in range(30):
        terms = model.loss_terms(x)
        assert all(torch.isfinite(v) for v in terms.values())
        losses.append(float(terms["loss"].detach()))
        opt.zero_grad()
        terms["loss"].backward()
        opt.step()
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5


def test_paper_form_kl_counts_half_per_unused_dimension():
    """SPEC 1.4: a latent dimension equal to its prior adds 0.5 to the paper-form loss."""
    from src.models.losses import clustering_vae_loss
    b, d = 8, 6
    x = torch.rand(b, 1, 28, 28)
    probs = torch.full((b, 10), 0.1)
    terms = clustering_vae_loss(x, x, torch.zeros(b, d), torch.zeros(b, d), torch.zeros(b, d),
                                probs, torch.zeros(10, d))
    assert float(terms["recon"]) == 0
    assert float(terms["kl"]) == pytest.approx(0.5 * d)
    assert float(terms["cat"]) == pytest.approx(float(torch.log(torch.tensor(0.1))), rel=1e-4)


def test_no_config_names_a_module_that_is_gone():
    """Every `_target_` in conf/ resolves (a renamed part would otherwise fail at run time)."""
    from hydra.utils import get_object
    for path in (ROOT / "conf").rglob("*.yaml"):
        for line in Path(path).read_text().splitlines():
            if line.strip().startswith("_target_:"):
                get_object(line.split(":", 1)[1].split("#")[0].strip())
