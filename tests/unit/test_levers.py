"""The clustering VAE's levers (conf/model/base/clustering_vae.yaml) on known cases, and seed
001's own model (conf/model/seed001_vae.yaml)."""
import math
from functools import partial

import pytest
import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from sklearn.cluster import KMeans
from torch import nn

from src.data import ImageDataModule
from src.models import ClusteringVAE
from src.models.losses import balance_term, warmup_weight
from src.models.parts import FlatDecoder, FlatEncoder, MixturePrior
from src.models.parts.initialisation import glorot_
from src.tasks.scores import clustering_metrics
from tests.helpers.processes import ROOT


def flat_vae(**levers) -> ClusteringVAE:
    return ClusteringVAE(FlatEncoder(), FlatDecoder(), partial(MixturePrior, latent=4, hidden=32), **levers)


def compose_train(*overrides):
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        return compose("train", overrides=list(overrides))


# --- the balance term ------------------------------------------------------------------------
def test_balance_term_is_zero_for_an_even_marginal_and_log_k_for_one_cluster():
    k = 10
    even = torch.eye(k).repeat(3, 1)  # every image certain, the clusters used equally
    assert balance_term(even).item() == pytest.approx(0.0, abs=1e-5)
    assert balance_term(torch.full((7, k), 1 / k)).item() == pytest.approx(0.0, abs=1e-5)
    one = torch.zeros(30, k)
    one[:, 3] = 1
    assert balance_term(one).item() == pytest.approx(math.log(k), abs=1e-5)
    half = torch.zeros(30, k)
    half[:15, 0] = half[15:, 1] = 1  # two clusters: log K - log 2
    assert balance_term(half).item() == pytest.approx(math.log(k) - math.log(2), abs=1e-5)


def test_the_balance_weight_adds_its_term_to_what_is_minimised_only():
    x = torch.rand(16, 1, 28, 28)
    torch.manual_seed(0)
    plain = flat_vae().loss_terms(x)
    torch.manual_seed(0)
    weighted = flat_vae(balance_weight=3.0).loss_terms(x)
    assert torch.equal(plain["loss"], plain["paper_loss"])  # the defaults train the paper's form
    assert torch.equal(weighted["paper_loss"], plain["paper_loss"])
    assert weighted["loss"].item() == pytest.approx((plain["loss"] + 3.0 * plain["balance"]).item(), rel=1e-6)


# --- KL warm-up and pretraining, epoch by epoch ----------------------------------------------
def test_warmup_weights_rise_linearly_to_one():
    assert [warmup_weight(e, 4) for e in range(7)] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 1.0])
    assert [warmup_weight(e, 0) for e in range(3)] == [1.0, 1.0, 1.0]


class Record(pl.Callback):
    """The loss weights and class means at each epoch's first step (after the model's own
    epoch-start hook, before any optimiser step of that epoch)."""

    def __init__(self):
        self.weights, self.means, self.model_at_start = [], [], []

    def on_train_batch_start(self, trainer, model, batch, batch_idx):
        if batch_idx == 0:
            self.weights.append(model._weights.tolist())
            self.means.append(model.bottleneck.class_means.detach().clone())
            self.model_at_start.append({k: v.clone() for k, v in model.state_dict().items()})


def fit(model, data_dir, epochs: int) -> Record:
    record = Record()
    datamodule = ImageDataModule("mnist", str(data_dir), batch_size=100, limit=1000, download=False)
    trainer = pl.Trainer(max_epochs=epochs, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, callbacks=[record])
    trainer.fit(model, datamodule=datamodule)
    return record, datamodule


def test_pretraining_then_kmeans_sets_the_class_means_at_the_kmeans_centres(data_dir):
    pl.seed_everything(3)
    model = flat_vae(pretrain_epochs=2, kl_warmup_epochs=4, class_means_init="kmeans")
    record, datamodule = fit(model, data_dir, epochs=4)
    # (KL weight, clustering on): plain VAE for 2 epochs, the KL weight rising over 4
    expected = [[0.2, 0.0], [0.4, 0.0], [0.6, 1.0], [0.8, 1.0]]
    assert all(got == pytest.approx(row) for got, row in zip(record.weights, expected, strict=True))
    assert model._weights.tolist() == [1.0, 1.0]  # after training: the full loss again

    # k-means, run again on the codes of the model as it was when it started the clusters
    before = flat_vae()
    before.load_state_dict(record.model_at_start[2])
    before.eval()
    with torch.no_grad():
        codes = torch.cat([before.encode(x) for x, _ in datamodule.batches("train", datamodule.fit_indices)])
    assert torch.allclose(record.means[2], before.bottleneck.class_means)
    kmeans = KMeans(10, n_init=10, random_state=torch.initial_seed() % 2**32).fit(codes.double().numpy())
    centres = torch.as_tensor(kmeans.cluster_centers_, dtype=torch.float32)
    assert torch.allclose(record.means[2], centres, atol=1e-4)
    # and the classifier starts from k-means' assignment
    agreement = (before.bottleneck.classifier(codes).argmax(1) == torch.as_tensor(kmeans.labels_)).float().mean()
    assert agreement > 0.9
    # the start's own scores go into the history row of its epoch, and only there
    labels = torch.cat([y for _, y in datamodule.batches("train", datamodule.fit_indices)]).numpy()
    own = clustering_metrics(kmeans.labels_, labels, 10)
    assert [sorted(k for k in row if k.startswith("kmeans_start_")) for row in model.history] == [
        [], [], ["kmeans_start_acc", "kmeans_start_acc_majority", "kmeans_start_classifier_agreement", "kmeans_start_nmi"], []]
    assert model.history[2]["kmeans_start_acc"] == pytest.approx(own["acc"])
    assert model.history[2]["kmeans_start_nmi"] == pytest.approx(own["nmi"])
    assert model.history[2]["kmeans_start_classifier_agreement"] == pytest.approx(float(agreement), abs=1e-6)


def test_pretraining_as_an_autoencoder_drops_the_kl_and_samples_nothing(data_dir):
    pl.seed_everything(3)
    model = flat_vae(pretrain_epochs=2, kl_warmup_epochs=4, pretrain_as="autoencoder")
    record, _ = fit(model, data_dir, epochs=3)
    # (KL weight, clustering on): no KL while pretraining, then the warm-up's weight of epoch 2
    expected = [[0.0, 0.0], [0.0, 0.0], [0.6, 1.0]]
    assert all(got == pytest.approx(row) for got, row in zip(record.weights, expected, strict=True))
    start, after = record.model_at_start[0], record.model_at_start[2]
    # the log-variance head and the classifier enter no weighted term: left as they started
    for key in ("bottleneck.logvar_head.weight", "bottleneck.classifier.0.weight"):
        assert torch.equal(start[key], after[key])
    assert not torch.equal(start["bottleneck.mean_head.weight"], after["bottleneck.mean_head.weight"])
    assert not model._autoencoding  # after training: the VAE's loss, z sampled


def test_the_pretraining_kl_weight_scales_the_kl_only_while_pretraining(data_dir):
    pl.seed_everything(3)
    model = flat_vae(pretrain_epochs=2, kl_warmup_epochs=4, pretrain_kl_weight=4.0)
    record, _ = fit(model, data_dir, epochs=3)
    # (KL weight, clustering on): 4 x the warm-up's weight while pretraining, the warm-up's after
    expected = [[0.8, 0.0], [1.6, 0.0], [0.6, 1.0]]
    assert all(got == pytest.approx(row) for got, row in zip(record.weights, expected, strict=True))


@pytest.mark.parametrize("hidden", [32, None])
def test_moving_the_code_leaves_what_is_decoded_unchanged(hidden):
    torch.manual_seed(0)
    bottleneck = MixturePrior(in_features=8, out_features=12, latent=4, hidden=hidden)
    features = torch.randn(50, 8)
    mu, _ = bottleneck.posterior(features)
    decoded = bottleneck.decode(mu)
    shift = torch.tensor([3.0, -1.0, 0.5, 20.0])
    bottleneck.move_code(shift, 4.0)
    moved, _ = bottleneck.posterior(features)
    assert torch.allclose(moved, (mu - shift) * 4.0, atol=1e-5)
    assert torch.allclose(bottleneck.decode(moved), decoded, atol=1e-4)


def test_while_autoencoding_the_loss_is_deterministic():
    x = torch.rand(16, 1, 28, 28)
    model = flat_vae(pretrain_as="autoencoder")
    model._autoencoding = True
    model._weights.copy_(torch.tensor([0.0, 0.0]))
    first, second = model.loss_terms(x), model.loss_terms(x)
    assert torch.equal(first["loss"], second["loss"])
    assert torch.equal(first["loss"], first["recon"])


def test_start_from_fits_the_classifier_to_the_clustering():
    torch.manual_seed(0)
    centres = torch.randn(10, 6) * 4
    labels = torch.randint(0, 10, (2000,))
    codes = centres[labels] + torch.randn(2000, 6) * 0.5
    bottleneck = MixturePrior(in_features=8, out_features=8, latent=6, hidden=16)
    agreement = bottleneck.start_from(centres, codes, labels, generator=torch.Generator().manual_seed(0))
    assert torch.equal(bottleneck.class_means.detach(), centres)
    assert agreement > 0.99
    assert agreement == (bottleneck.classifier(codes).argmax(1) == labels).float().mean().item()


# --- the classifier's input ------------------------------------------------------------------
def test_classifier_on_the_mean_makes_the_category_term_deterministic():
    x = torch.rand(16, 1, 28, 28)
    torch.manual_seed(0)
    on_mean, on_sample = flat_vae(classifier_input="mean"), flat_vae()
    assert torch.equal(on_mean.loss_terms(x)["cat"], on_mean.loss_terms(x)["cat"])
    assert not torch.equal(on_sample.loss_terms(x)["cat"], on_sample.loss_terms(x)["cat"])


# --- initialisation ----------------------------------------------------------------------------
@pytest.mark.parametrize("layer, fans", [
    (nn.Linear(300, 100), (300, 100)),
    (nn.Conv2d(16, 32, 5), (16 * 25, 32 * 25)),
    (nn.ConvTranspose2d(64, 32, 3), (64 * 9, 32 * 9)),  # Keras: fan_in from the input channels
])
def test_glorot_bounds_as_in_the_formula(layer, fans):
    torch.manual_seed(0)
    nn.init.normal_(layer.bias)
    glorot_(layer)
    bound = math.sqrt(6 / sum(fans))
    weight = layer.weight.detach()
    assert weight.abs().max() <= bound
    assert weight.abs().max() > 0.98 * bound  # the whole interval is used: U(-a, a)
    assert weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.05)
    assert torch.count_nonzero(layer.bias) == 0


def test_init_glorot_reaches_every_layer_of_the_model_and_torch_leaves_the_default():
    torch.manual_seed(0)
    default = flat_vae()
    torch.manual_seed(0)
    assert all(torch.equal(a, b) for a, b in zip(default.parameters(), flat_vae(init="torch").parameters()))
    model = flat_vae(init="glorot")
    for name, layer in model.named_modules():
        if isinstance(layer, nn.Linear):
            bound = math.sqrt(6 / (layer.in_features + layer.out_features))
            assert layer.weight.abs().max() <= bound and torch.count_nonzero(layer.bias) == 0, name


# --- the learning-rate schedule ----------------------------------------------------------------
def test_scheduler_cosine_decays_the_learning_rate_over_the_epochs():
    cfg = compose_train("scheduler=cosine", "epochs=4", "lr=0.01", "model=flat_vae", "model.compile=false")
    config = instantiate(cfg.model, num_classes=10).configure_optimizers()
    optimizer, scheduler = config["optimizer"], config["lr_scheduler"]["scheduler"]
    assert config["lr_scheduler"]["interval"] == "epoch"
    rates = []
    for _ in range(4):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates[0] == pytest.approx(0.01) and rates == sorted(rates, reverse=True)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
    assert isinstance(instantiate(compose_train().model, num_classes=10).configure_optimizers(),
                      torch.optim.Optimizer)  # no scheduler by default


# --- seed 001's model ----------------------------------------------------------------------------
def test_seed001_model_has_its_architecture_and_trains_a_step():
    cfg = compose_train("model=seed001_vae", "latent=20")
    torch.manual_seed(0)
    model = instantiate(cfg.model, num_classes=10)
    convs = [m for m in model.encoder.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.stride) for c in convs] == [
        (1, 32, (3, 3), (2, 2)), (32, 32, (3, 3), (1, 1)), (32, 64, (3, 3), (2, 2)), (64, 64, (3, 3), (1, 1))]
    transposed = [m for m in model.decoder.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [(c.in_channels, c.out_channels, c.stride) for c in transposed] == [
        (64, 64, (1, 1)), (64, 64, (2, 2)), (64, 32, (1, 1)), (32, 32, (2, 2)), (32, 1, (1, 1))]
    slopes = {m.negative_slope for m in [*model.encoder.modules(), *model.decoder.modules()]
              if isinstance(m, nn.LeakyReLU)}
    assert slopes == {0.2}
    b = model.bottleneck
    assert isinstance(b.to_hidden, nn.Identity)  # mean and log-variance straight from the features
    assert (b.mean_head.in_features, b.mean_head.out_features) == (7 * 7 * 64, 20)
    assert isinstance(b.from_latent, nn.Linear) and b.from_latent.out_features == 7 * 7 * 64
    assert [m.out_features for m in b.classifier if isinstance(m, nn.Linear)] == [256, 10]
    assert model.hparams.kl_estimator == "sampled" and model.hparams.recon_weight == 2.5
    assert all(torch.count_nonzero(m.bias) == 0 for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d)))

    x = torch.rand(8, 1, 28, 28)
    assert model.encode(x).shape == (8, 20)
    assert model.decode(model.encode(x)).shape == x.shape
    optimizer = model.configure_optimizers()
    before = [p.detach().clone() for p in model.parameters()]
    model.loss_terms(x)["loss"].backward()
    optimizer.step()
    assert all(not torch.equal(a, p) for a, p in zip(before, model.parameters()))
