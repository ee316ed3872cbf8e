"""Table 1's rows under several settings of the levers, from records made here (no training)."""
import statistics

import pytest
from omegaconf import OmegaConf

from src.experiments.table1.rows import Rows, unique_runs


def record(levers: str, seed: int, acc: float, loss: float, layers: int = 2, val: float = 0.5, trial: int = 0) -> dict:
    return {"study": f"study_{levers}", "trial": trial, "model": "conv_vae", "dataset": "mnist", "latent": 10,
            "layers": layers, "hidden": 128, "seed": seed, "epochs": 50, "limit": None, "levers": levers,
            "train_loss": loss, "test_loss": loss, "train_acc_majority": acc, "test_acc_majority": acc,
            "train_acc": acc, "test_acc": acc, "test_nmi": acc / 2, "val_acc": val, "wall_seconds": 1.0}


ACCS = {"none": [0.70, 0.80, 0.75], "kmeans": [0.85, 0.88, 0.86]}
LOSSES = {"none": [33.0, 32.0, 34.0], "kmeans": [33.5, 33.9, 33.1]}


@pytest.fixture
def table():
    records = [record(levers, seed, ACCS[levers][seed], LOSSES[levers][seed], trial=seed)
               for levers in ACCS for seed in range(3)]
    records.append(record("none", 0, 0.99, 30.0, layers=3, val=0.1, trial=3))  # worse by validation: not chosen
    r = OmegaConf.create({"epochs": 50, "limit": None, "levers": ["none", "kmeans"]})
    return Rows(r, unique_runs(records), storage=None).table_rows()


def test_each_row_of_the_paper_appears_once_per_setting_in_the_given_order(table):
    assert list(table["levers"]) == ["none", "kmeans"] * 14
    ran = table[table["seeds"] > 0]
    assert [(d, s, levers) for d, s, levers in ran[["dataset", "s", "levers"]].values] == [
        ("mnist", 10, "none"), ("mnist", 10, "kmeans")]


def test_a_setting_keeps_its_own_runs_best_point_and_label_free_pick(table):
    for levers, accs in ACCS.items():
        row = table[(table["levers"] == levers) & (table["seeds"] > 0)].iloc[0]
        assert (row["n"], row["m"], row["seeds"], row["(n, m) tried"]) == (2, 128, 3, 2 if levers == "none" else 1)
        assert row["acc test (majority) mean"] == pytest.approx(100 * statistics.fmean(accs))
        assert row["acc test (majority) std"] == pytest.approx(100 * statistics.stdev(accs))
        assert row["NMI test mean"] == pytest.approx(statistics.fmean(accs) / 2)
        pick = min(range(3), key=lambda seed: LOSSES[levers][seed])  # lowest training loss, no label
        assert (row["pick seed"], row["pick acc test (majority)"]) == (pick, pytest.approx(100 * accs[pick]))


def test_the_same_point_and_seed_under_two_settings_are_two_runs():
    runs = unique_runs([record("none", 0, 0.7, 33.0), record("kmeans", 0, 0.8, 33.0),
                        {**record("none", 0, 0.7, 33.0), "study": "study_z"}])  # the same run in a later study
    assert sorted((r["levers"], r["study"]) for r in runs) == [("kmeans", "study_kmeans"), ("none", "study_none")]
