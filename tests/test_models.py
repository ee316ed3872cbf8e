import pytest
import torch

from src.data import ImageDataModule
from src.models import ClusteringVAE, ConvBackbone, FlatBackbone
from src.models.backbones import channels_last_flat, channels_last_unflat


@pytest.mark.parametrize("layers", range(1, 7))
def test_conv_vae_shapes_for_every_layer_count(layers):
    model = ClusteringVAE(ConvBackbone(layers), latent=7, hidden=32)
    x = torch.rand(5, 1, 28, 28)
    out = model(x)
    assert out["x_rec"].shape == x.shape
    assert out["mu"].shape == out["logvar"].shape == out["z"].shape == (5, 7)
    assert out["probs"].shape == (5, 10)
    assert torch.allclose(out["probs"].sum(1), torch.ones(5))
    assert model.assign(x).shape == (5,)
    assert model.generate(3).shape == (10, 3, 1, 28, 28)
    # spliced data = Con_Layer1 (16 channels) + Con_Layer2 (32 channels); ceil pooling keeps size >= 1
    size1 = [28, 14, 7, 4, 2, 1, 1][layers]
    size2 = [size1, -(-size1 // 2), -(-size1 // 4), -(-size1 // 8), -(-size1 // 16),
             -(-size1 // 32), -(-size1 // 64)][layers]
    expected = 16 * size1 ** 2 + 32 * size2 ** 2
    assert model.backbone.feature_size == expected == model.backbone.features(x).shape[1]


def test_the_decoder_reads_con_layer1_in_the_order_the_encoder_flattens_it():
    backbone = ConvBackbone(layers=2)
    h1 = backbone.con_layer1(torch.rand(3, 1, 28, 28).contiguous(memory_format=torch.channels_last))
    assert torch.equal(channels_last_unflat(channels_last_flat(h1), backbone.shape1), h1)
    # no copy of the activation on the way in or out (the reason for this order)
    assert channels_last_flat(h1).data_ptr() == h1.data_ptr()
    assert channels_last_unflat(channels_last_flat(h1), backbone.shape1).data_ptr() == h1.data_ptr()


@pytest.mark.parametrize("layers", [1, 3])
def test_a_checkpoint_in_the_earlier_channel_first_order_loads_to_the_same_model(layers):
    """Checkpoints written before version 2 flattened the conv features (and read the
    decoded vector) in (channel, height, width) order; loading one must give the model it was."""
    torch.manual_seed(0)
    old = ClusteringVAE(ConvBackbone(layers), latent=4, hidden=16).eval()
    state = old.state_dict()
    state._metadata[""]["version"] = 1
    new = ClusteringVAE(ConvBackbone(layers), latent=4, hidden=16).eval()
    new.load_state_dict(state)

    x, z = torch.rand(3, 1, 28, 28), torch.randn(3, 4)
    with torch.no_grad():  # the earlier forward: .flatten(1) and .view(-1, C, H, W) are (C, H, W) order
        h1 = old.backbone.con_layer1(x)
        h2 = old.backbone.con_layer2(h1)
        mean = old.mean_head(old.encoder(torch.cat([h1.flatten(1), h2.flatten(1)], dim=1)))
        decoded = torch.relu(old.decoder(z)).view(-1, *old.backbone.shape1)
        image = old.backbone.tran_con_layer1(decoded)
        assert torch.allclose(new.encode(x)[0], mean, atol=1e-5)
        assert torch.allclose(new.decode(z), image, atol=1e-5)
        assert not torch.allclose(old.decode(z), image, atol=1e-3)  # the order does matter
    assert new.state_dict()._metadata[""]["version"] == 2


def test_flat_vae_shapes():
    model = ClusteringVAE(FlatBackbone(), latent=10, hidden=100)
    x = torch.rand(4, 1, 28, 28)
    assert model(x)["x_rec"].shape == x.shape
    assert model.backbone.features(x).shape == (4, 784)


def test_compile_option_compiles_the_training_step():
    from torch._dynamo.utils import counters

    counters.clear()
    model = ClusteringVAE(FlatBackbone(), latent=4, hidden=16, compile=True)
    x = torch.rand(8, 1, 28, 28)
    loss = model.training_step((x, torch.zeros(8, dtype=torch.long)), 0)
    loss.backward()
    assert counters["stats"]["unique_graphs"] >= 1  # the step ran through torch.compile
    assert torch.isfinite(loss) and model.encoder.weight.grad is not None


def test_standard_prior_is_fixed_at_zero():
    model = ClusteringVAE(FlatBackbone(), latent=4, hidden=16, prior="standard")
    assert "class_means" not in dict(model.named_parameters())
    assert torch.equal(model.class_means, torch.zeros(10, 4))


@pytest.mark.parametrize("kl_estimator", ["analytic", "sampled"])
@pytest.mark.parametrize("backbone", [lambda: ConvBackbone(2), FlatBackbone])
def test_losses_finite_and_falling_on_real_images(data_dir, backbone, kl_estimator):
    dm = ImageDataModule("mnist", str(data_dir), batch_size=100, limit=300, val_size=1)
    dm.prepare_data()
    dm.setup(device=torch.device("cpu"))
    x = dm.splits["train"][0][:100]
    torch.manual_seed(0)
    model = ClusteringVAE(backbone(), latent=10, hidden=128, kl_estimator=kl_estimator)
    opt = model.configure_optimizers()
    losses = []
    for _ in range(30):
        terms = model.loss_terms(x, model(x))
        assert all(torch.isfinite(v) for v in terms.values())
        losses.append(float(terms["loss"].detach()))
        opt.zero_grad()
        terms["loss"].backward()
        opt.step()
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5


def test_paper_form_kl_counts_half_per_unused_dimension():
    """SPEC 1.4: a latent dimension equal to its prior adds 0.5 to the paper-form loss."""
    from src.models.loss import clustering_vae_loss
    b, d = 8, 6
    x = torch.rand(b, 1, 28, 28)
    probs = torch.full((b, 10), 0.1)
    terms = clustering_vae_loss(x, x, torch.zeros(b, d), torch.zeros(b, d), torch.zeros(b, d),
                                probs, torch.zeros(10, d))
    assert float(terms["recon"]) == 0
    assert float(terms["kl"]) == pytest.approx(0.5 * d)
    assert float(terms["cat"]) == pytest.approx(float(torch.log(torch.tensor(0.1))), rel=1e-4)
