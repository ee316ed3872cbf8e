"""The levers' ablation report from a study: its means, spreads and label-free pick."""
import math
import statistics

import optuna
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution, IntDistribution

from src.experiments.levers.report import main

SETTINGS = ["none", "kmeans", "balance"]


def record(levers: str, seed: int, acc: float, train_loss: float) -> dict:
    return {"dataset": "mnist", "latent": 10, "layers": 2, "hidden": 128, "epochs": 20, "seed": seed,
            "commit": "abc", "device": "cpu", "wall_seconds": 60.0, "test_acc_majority": acc,
            "test_acc": acc - 0.05, "test_nmi": acc - 0.1, "test_smallest_cluster": 0.01 * seed,
            "test_clusters_without_class": 3 - seed, "val_acc": acc, "train_loss": train_loss}


def test_the_ablation_shows_mean_std_over_seeds_and_the_lowest_loss_restart(tmp_path):
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(tmp_path / "s.log")))
    study = optuna.create_study(study_name="levers_mnist_e20", storage=storage, direction="maximize")
    accs = {"none": [0.60, 0.70, 0.65], "kmeans": [0.90, 0.80, 0.85], "balance": [0.50, 0.55, 0.75]}
    losses = {"none": [50, 49, 51], "kmeans": [48, 47, 49], "balance": [52, 53, 51]}
    for levers in ["kmeans", "none", "balance"]:  # not the sweep's order
        for seed in range(3):
            study.add_trial(optuna.trial.create_trial(
                params={"levers": levers, "seed": seed},
                distributions={"levers": CategoricalDistribution(SETTINGS), "seed": IntDistribution(0, 2)},
                value=accs[levers][seed], user_attrs=record(levers, seed, accs[levers][seed], losses[levers][seed])))
    for seed in (2, 3):  # not in the means; seed 2 finished on its retry, seed 3 never did
        study.add_trial(optuna.trial.create_trial(
            state=optuna.trial.TrialState.FAIL, params={"levers": "balance", "seed": seed},
            distributions={"levers": CategoricalDistribution(SETTINGS), "seed": IntDistribution(0, 3)}))
    out = tmp_path / "report"
    main([f"storage={tmp_path / 's.log'}", f"out={out}"])

    table = pd.read_csv(out / "ablation.csv", index_col="levers", dtype={"failed seeds": str})
    assert list(table.index) == SETTINGS and list(table["seeds"]) == [3, 3, 3]
    assert table["failed seeds"].fillna("").tolist() == ["", "", "3"]
    for levers in SETTINGS:
        values = [100 * a for a in accs[levers]]
        assert table.loc[levers, "acc test (majority) mean"] == pytest.approx(statistics.fmean(values), abs=1e-4)
        assert table.loc[levers, "acc test (majority) std"] == pytest.approx(statistics.stdev(values), abs=1e-4)
    assert table.loc["kmeans", "acc test (majority) vs none"] == pytest.approx(85 - 65, abs=1e-4)
    from scipy.stats import ttest_ind
    expected_p = ttest_ind([90, 80, 85], [60, 70, 65], equal_var=False).pvalue
    assert table.loc["kmeans", "acc test (majority) vs none: Welch p"] == pytest.approx(expected_p, abs=1e-4)  # CSV: 4 digits
    assert math.isnan(table.loc["none", "acc test (majority) vs none: Welch p"])
    # the restart with the lowest training loss, whatever its accuracy
    assert list(table["label-free pick: seed"]) == [1, 1, 2]
    assert list(table["label-free pick: acc test (majority)"]) == pytest.approx([70, 80, 75])
    text = (out / "ablation.md").read_text()
    assert "| kmeans" in text and "85.00 ± 5.00" in text
    assert "levers_mnist_e20" in optuna.get_all_study_names(
        optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(out / "studies.log"))))


def test_a_study_that_is_not_there_is_one_clear_line(tmp_path, capsys):
    (tmp_path / "empty.log").touch()
    with pytest.raises(SystemExit) as stop:
        main([f"storage={tmp_path / 'empty.log'}", "study=levers_nosuch", f"out={tmp_path / 'out'}"])
    assert "study=levers_nosuch" in str(stop.value) and "sweep=levers_mnist" in str(stop.value)
    assert not (tmp_path / "out").exists()


def test_settings_added_in_a_second_study_join_the_table_and_other_rows_are_refused(tmp_path):
    path = tmp_path / "s.log"
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    for name, settings, acc in [("levers_a", ["none", "kmeans"], 0.6), ("levers_b", ["glorot"], 0.8)]:
        study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
        for levers in settings:
            for seed in range(2):
                study.add_trial(optuna.trial.create_trial(
                    params={"levers": levers, "seed": seed},
                    distributions={"levers": CategoricalDistribution(settings), "seed": IntDistribution(0, 1)},
                    value=acc, user_attrs=record(levers, seed, acc + 0.01 * seed, 50 - seed)))
    out = tmp_path / "report"
    main([f"storage={path}", "study=[levers_a,levers_b]", f"out={out}"])
    table = pd.read_csv(out / "ablation.csv", index_col="levers")
    assert list(table.index) == ["none", "kmeans", "glorot"]
    assert list(table["study"]) == ["levers_a", "levers_a", "levers_b"]
    assert table.loc["glorot", "acc test (majority) vs none"] == pytest.approx(20, abs=1e-4)
    text = (out / "ablation.md").read_text()
    assert "study=[levers_a,levers_b]" in text
    copied = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(out / "studies.log")))
    assert sorted(optuna.get_all_study_names(copied)) == ["levers_a", "levers_b"]
    # rebuilt from the copy, the same table
    main([f"storage={out / 'studies.log'}", "study=[levers_a,levers_b]", f"out={out}"])
    assert pd.read_csv(out / "ablation.csv", index_col="levers").equals(table)

    other = optuna.create_study(study_name="levers_c", storage=storage, direction="maximize")
    other.add_trial(optuna.trial.create_trial(
        params={"levers": "none"}, distributions={"levers": CategoricalDistribution(["none"])},
        value=0.5, user_attrs={**record("none", 0, 0.5, 50), "latent": 20}))
    with pytest.raises(SystemExit) as stop:
        main([f"storage={path}", "study=[levers_a,levers_c]", f"out={tmp_path / 'mixed'}"])
    assert "study=levers_a,levers_c" in str(stop.value) and "latent=20" in str(stop.value)
    assert not (tmp_path / "mixed").exists()


def test_table1_studies_of_one_row_join_the_ablation_with_their_recorded_setting_and_seed(tmp_path):
    # src.reproduce runs one setting per study, `levers` fixed and recorded on the trials; seed 0 in a
    # grid study (seed fixed), seeds 1.. in a seeds study (seed swept)
    path = tmp_path / "s.log"
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    accs = {"none": [0.60, 0.62, 0.58], "recon20": [0.70, 0.66, 0.68]}
    names = []
    for levers, acc in accs.items():
        grid = optuna.create_study(study_name=f"table1_{levers}_paper", storage=storage, direction="maximize")
        grid.add_trial(optuna.trial.create_trial(
            params={"layers": 2}, distributions={"layers": IntDistribution(2, 2)}, value=acc[0],
            user_attrs={**record(levers, 0, acc[0], 50), "levers": levers}))
        seeds = optuna.create_study(study_name=f"table1_{levers}_seeds", storage=storage, direction="maximize")
        for seed in (1, 2):
            seeds.add_trial(optuna.trial.create_trial(
                params={"seed": seed}, distributions={"seed": IntDistribution(1, 9)}, value=acc[seed],
                user_attrs={**record(levers, seed, acc[seed], 50 - seed), "levers": levers}))
        names += [grid.study_name, seeds.study_name]
    out = tmp_path / "report"
    main([f"storage={path}", f"study=[{','.join(names)}]", f"out={out}"])
    table = pd.read_csv(out / "ablation.csv", index_col="levers")
    assert list(table.index) == ["none", "recon20"] and list(table["seeds"]) == [3, 3]
    assert table.loc["recon20", "acc test (majority) mean"] == pytest.approx(68, abs=1e-4)
    assert table.loc["recon20", "acc test (majority) vs none"] == pytest.approx(8, abs=1e-4)
    assert "seeds 0, 1, 2." in (out / "ablation.md").read_text()


def test_one_study_of_one_setting_is_one_row_without_a_difference_to_none(tmp_path):
    # a Table 1 study at a row of its own: `levers` fixed, recorded on each of its seeds
    path = tmp_path / "s.log"
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    study = optuna.create_study(study_name="table1_s60_n2_m128", storage=storage, direction="maximize")
    for seed, acc in enumerate([0.82, 0.83, 0.84]):
        study.add_trial(optuna.trial.create_trial(
            params={"seed": seed}, distributions={"seed": IntDistribution(0, 2)}, value=acc,
            user_attrs={**record("recon20", seed, acc, 50 - seed), "levers": "recon20"}))
    out = tmp_path / "report"
    main([f"storage={path}", "study=[table1_s60_n2_m128]", f"out={out}"])
    table = pd.read_csv(out / "ablation.csv", index_col="levers")
    assert list(table.index) == ["recon20"] and list(table["seeds"]) == [3]
    assert table.loc["recon20", "acc test (majority) mean"] == pytest.approx(83, abs=1e-4)
    assert "none not in these studies" in (out / "ablation.md").read_text()


def test_a_setting_with_one_seed_shows_its_value_without_a_spread(tmp_path):
    path = tmp_path / "s.log"
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    study = optuna.create_study(study_name="seed001_fashion_mnist_e50", storage=storage, direction="maximize")
    study.add_trial(optuna.trial.create_trial(
        params={"seed": 0}, distributions={"seed": IntDistribution(0, 2)}, value=0.5921,
        user_attrs={**record("none", 0, 0.5921, 33.5), "levers": "none"}))
    out = tmp_path / "report"
    main([f"storage={path}", "study=seed001_fashion_mnist_e50", f"out={out}"])
    text = (out / "ablation.md").read_text()
    assert "| 59.21 " in text and "nan" not in text


def test_a_model_without_conv_stacks_reports_its_seeds_without_n_and_m(tmp_path):
    # seed 001's model records layers and hidden as None: its row is dataset, s and epochs
    path = tmp_path / "s.log"
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    study = optuna.create_study(study_name="seed001_mnist_e50", storage=storage, direction="maximize")
    for seed, acc in [(0, 0.78), (2, 0.84)]:
        study.add_trial(optuna.trial.create_trial(
            params={"seed": seed}, distributions={"seed": IntDistribution(0, 2)}, value=acc,
            user_attrs={**record("none", seed, acc, 37 - seed), "levers": "none", "latent": 20,
                        "layers": None, "hidden": None, "epochs": 50}))
    out = tmp_path / "report"
    main([f"storage={path}", "study=seed001_mnist_e50", f"out={out}"])
    assert "mnist, s=20, 50 epochs, seeds 0, 2." in (out / "ablation.md").read_text()
    table = pd.read_csv(out / "ablation.csv", index_col="levers")
    assert table.loc["none", "acc test (majority) mean"] == pytest.approx(81, abs=1e-4)
    assert table.loc["none", "label-free pick: seed"] == 2


def test_curve_shows_the_validation_accuracy_each_trial_reported_at_the_epochs_asked(tmp_path):
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(tmp_path / "s.log")))
    study = optuna.create_study(study_name="levers_mnist_e20", storage=storage, direction="maximize")
    for seed, (start, end) in enumerate([(0.70, 0.80), (0.60, 0.90)]):
        study.add_trial(optuna.trial.create_trial(
            params={"levers": "none", "seed": seed},
            distributions={"levers": CategoricalDistribution(["none"]), "seed": IntDistribution(0, 1)},
            value=end, intermediate_values={0: 0.1, 1: start, 19: end},
            user_attrs=record("none", seed, end, 50.0)))
    out = tmp_path / "report"
    main([f"storage={tmp_path / 's.log'}", f"out={out}", "curve=[1,19]"])

    table = pd.read_csv(out / "ablation.csv", index_col="levers")
    assert table.loc["none", "acc val at epoch 1 mean"] == pytest.approx(65.0)
    assert table.loc["none", "acc val at epoch 1 std"] == pytest.approx(statistics.stdev([70, 60]), abs=1e-4)
    assert table.loc["none", "acc val at epoch 19 mean"] == pytest.approx(85.0)
    text = (out / "ablation.md").read_text()
    assert "acc val at epoch 1" in text and "curve=[1,19]" in text
