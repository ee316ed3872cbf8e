"""Linear probe (the bake-off's classification task): how much of the label a code holds
when labels are scarce. A linear layer is trained on the codes of LABELLED training images
(drawn with a fixed seed, the same for every run), Adam, early stopping on the held-out
validation images' accuracy, and scored on the test set. The codes come from the frozen
encoder, sampled for the VAEs. Beside it, two baselines on the same images:

- raw_pixels: the same linear layer on the pixels;
- from_scratch: the model's encoder, re-initialised, trained with the linear layer on the
  LABELLED images alone (ae_bakeoff's baseline: what pretraining on unlabelled images adds).

Labels are used here: the LABELLED images' to fit, the validation images' to stop early."""
import copy

import torch
from torch import nn

from src.tasks.base import Task

LABELLED = 550
DRAW_SEED = 0  # fixes which images are labelled, for every run and model alike
BATCH, LR, MAX_EPOCHS, PATIENCE = 32, 1e-3, 300, 20


def labelled_indices(datamodule) -> torch.Tensor:
    pool = datamodule.fit_indices
    order = torch.randperm(len(pool), generator=torch.Generator().manual_seed(DRAW_SEED))
    return pool[order[:LABELLED].to(pool.device)]


@torch.enable_grad()
def fit(encode, network, images, labels, val, num_classes, generator) -> dict:
    """A linear layer on `encode(images)`, trained (with `network`'s parameters when `network`
    is not None, else on fixed features), kept at its best validation accuracy; `val`: the
    validation (images, labels). Returns the best state's validation accuracy and the probe
    (a function of images) at that state."""
    with torch.no_grad():
        dim = encode(images[:2]).shape[1]
    head = nn.Linear(dim, num_classes).to(images.device)
    modules = nn.ModuleList([head] + ([network] if network is not None else []))
    optimizer = torch.optim.Adam(modules.parameters(), lr=LR)
    best, best_epoch, best_state = -1.0, 0, None

    def probe(x):
        if network is None:  # fixed features: no graph through the frozen model
            with torch.no_grad():
                features = encode(x)
            return head(features)
        return head(encode(x))

    for epoch in range(MAX_EPOCHS):
        modules.train()
        for batch in torch.randperm(len(images), generator=generator).split(BATCH):
            batch = batch.to(images.device)
            loss = nn.functional.cross_entropy(probe(images[batch]), labels[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        modules.eval()
        with torch.no_grad():
            score = (probe(val[0]).argmax(1) == val[1]).float().mean().item()
        if score > best:
            best, best_epoch, best_state = score, epoch, copy.deepcopy(modules.state_dict())
        elif epoch - best_epoch >= PATIENCE:
            break
    modules.load_state_dict(best_state)
    modules.eval()
    return {"val_acc": best, "epochs": epoch + 1, "probe": probe}


def reinitialised(model):
    """A copy of `model` with every layer's parameters drawn afresh, all trainable."""
    fresh = copy.deepcopy(model)
    for module in fresh.modules():
        if module is not fresh and hasattr(module, "reset_parameters"):
            module.reset_parameters()
    return fresh.requires_grad_(True)


class LinearProbe(Task):
    name = "linear_probe"
    needs = ("encode",)

    def __call__(self, model, datamodule, run_dir) -> dict:
        train_images, train_labels = datamodule.splits["train"]
        chosen = labelled_indices(datamodule)
        images, labels = train_images[chosen], train_labels[chosen]
        val = (train_images[datamodule.val_indices], train_labels[datamodule.val_indices])
        test = datamodule.splits["test"]
        k = datamodule.num_classes
        fresh = reinitialised(model)
        ways = {"code": (lambda x: model.encode(x, sample=True), None),
                "raw_pixels": (lambda x: x.flatten(1), None),
                "from_scratch": (lambda x: fresh.encode(x, sample=True), fresh)}
        results = {"labelled": LABELLED}
        with torch.random.fork_rng(devices=[]):  # sampled codes: the same draws for a rerun
            torch.manual_seed(datamodule.seed)
            for name, (encode, network) in ways.items():
                fitted = fit(encode, network, images, labels, val, k, torch.Generator().manual_seed(datamodule.seed))
                with torch.no_grad():
                    test_acc = sum((fitted["probe"](x).argmax(1) == y).sum().item()
                                   for x, y in zip(test[0].split(1000), test[1].split(1000))) / len(test[1])
                results[name] = {"val_acc": fitted["val_acc"], "test_acc": test_acc, "epochs": fitted["epochs"]}
        model.eval()
        return results

    def trial_attrs(self, result: dict) -> dict:
        return {f"probe_{name}_test_acc": result[name]["test_acc"] for name in ("code", "raw_pixels", "from_scratch")}
