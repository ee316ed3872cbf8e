"""The clustering table's rows from other experiments' studies: one list of study names for
every data set ({dataset} filled in), or a list per data set where the rows differ (the flat
baseline's peak is s=10 on MNIST, s=25 on Fashion-MNIST); `match` keeps the row's settings."""
import optuna
from omegaconf import OmegaConf

from hydra_plugins.optuna5_sweeper.storage import open_storage
from src.experiments.clustering.report import other_trials


def add_run(storage, study: str, dataset: str, levers: str, acc: float) -> None:
    s = optuna.create_study(study_name=study, storage=storage, direction="maximize", load_if_exists=True)
    attrs = {"dataset": dataset, "levers": levers, "seed": len(s.trials), "wall_seconds": 1.0, "commit": "c",
             "device": "cpu", "val_acc": acc, **{f"test_{k}": acc for k in ("acc", "acc_majority", "nmi", "ari")}}
    s.add_trial(optuna.trial.create_trial(value=acc, user_attrs=attrs))


def test_studies_per_data_set_read_only_that_data_sets_studies(tmp_path):
    path = tmp_path / "studies.log"
    storage = open_storage(str(path))
    add_run(storage, "flat_mnist_s10", "mnist", "none", 0.6)
    add_run(storage, "flat_mnist_s10", "mnist", "recon20", 0.5)
    add_run(storage, "flat_fashion_mnist_s10", "fashion_mnist", "none", 0.1)  # not the peak: not read
    add_run(storage, "flat_fashion_mnist_s25", "fashion_mnist", "none", 0.7)
    add_run(storage, "conv_mnist", "mnist", "none", 0.8)
    add_run(storage, "conv_fashion_mnist", "fashion_mnist", "none", 0.9)
    r = OmegaConf.create({"datasets": ["mnist", "fashion_mnist"], "others": [
        {"method": "flat", "storage": str(path), "match": {"levers": "none"},
         "studies": {"mnist": ["flat_mnist_s10"], "fashion_mnist": ["flat_fashion_mnist_s25"]}},
        {"method": "conv", "storage": str(path), "match": {}, "studies": ["conv_{dataset}"]},
        {"method": "missing", "storage": str(tmp_path / "none.log"), "match": {}, "studies": ["conv_{dataset}"]}]})
    rows = {(x["method"], x["dataset"]): x for x in other_trials(r)}
    assert {k: (x["study"], x["acc"]) for k, x in rows.items()} == {
        ("flat", "mnist"): ("flat_mnist_s10", 0.6), ("flat", "fashion_mnist"): ("flat_fashion_mnist_s25", 0.7),
        ("conv", "mnist"): ("conv_mnist", 0.8), ("conv", "fashion_mnist"): ("conv_fashion_mnist", 0.9)}
