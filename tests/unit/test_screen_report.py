"""The (n, m) screen's table from a study: every point, the sweeper's choice, no test score."""
import optuna
import pandas as pd
import pytest
from optuna.distributions import IntDistribution

from src.experiments.table1.screen import main

VAL = {(2, 128): 0.70, (2, 512): 0.80, (5, 128): 0.40, (5, 512): 0.55}


def attrs(n: int, m: int, val: float, latent: int = 60) -> dict:
    return {"dataset": "fashion_mnist", "latent": latent, "layers": n, "hidden": m, "levers": "recon20",
            "epochs": 20, "seed": 0, "commit": "abc", "device": "cpu", "wall_seconds": 300.0,
            "val_acc": val, "val_acc_majority": val + 0.01, "val_nmi": val - 0.2,
            "val_clusters_without_class": 1, "val_loss": 140.0, "test_acc": 0.99, "test_acc_majority": 0.99}


def study_with(path, name: str, points: dict, latent=lambda n: 60) -> None:
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
    dists = {"layers": IntDistribution(2, 6), "hidden": IntDistribution(128, 512)}
    for (n, m), val in points.items():
        study.add_trial(optuna.trial.create_trial(params={"layers": n, "hidden": m}, distributions=dists,
                                                  value=val, user_attrs=attrs(n, m, val, latent(n))))
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL,
                                              params={"layers": 6, "hidden": 128}, distributions=dists))


def test_every_point_is_shown_and_the_highest_validation_accuracy_is_chosen(tmp_path):
    study_with(tmp_path / "s.log", "screen", VAL)
    out = tmp_path / "report"
    main(["study=screen", f"storage={tmp_path / 's.log'}", f"out={out}"])

    table = pd.read_csv(out / "screen.csv")
    assert list(zip(table["n"], table["m"])) == sorted(VAL)
    assert table["acc val (Hungarian)"].tolist() == pytest.approx([100 * VAL[p] for p in sorted(VAL)])
    assert table.loc[table["chosen"], ["n", "m"]].values.tolist() == [[2, 512]]
    assert table["minutes"].tolist() == pytest.approx([5.0] * 4)
    text = (out / "screen.md").read_text()
    assert "**(n, m) = (2, 512)**" in text and "#4 (FAIL)" in text
    assert "99.00" not in text and "test" not in table.columns.str.cat()  # no test score to choose by
    copy = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(out / "studies.log")))
    assert optuna.get_all_study_names(copy) == ["screen"]
    # and it rebuilds from its copy alone
    main(["study=screen", f"storage={out / 'studies.log'}", f"out={out}"])
    assert pd.read_csv(out / "screen.csv").equals(table)


def test_a_study_over_more_than_n_and_m_is_refused_in_one_line(tmp_path):
    study_with(tmp_path / "s.log", "mixed", VAL, latent=lambda n: 10 * n)
    with pytest.raises(SystemExit) as stop:
        main(["study=mixed", f"storage={tmp_path / 's.log'}", f"out={tmp_path / 'out'}"])
    assert "study=mixed" in str(stop.value) and "one row" in str(stop.value)
    assert not (tmp_path / "out").exists()


def test_a_missing_study_names_the_ones_the_storage_holds(tmp_path):
    study_with(tmp_path / "s.log", "screen", VAL)
    with pytest.raises(SystemExit) as stop:
        main(["study=nosuch", f"storage={tmp_path / 's.log'}", f"out={tmp_path / 'out'}"])
    assert "study=nosuch" in str(stop.value) and "it holds: screen" in str(stop.value)


def test_without_a_study_name_it_says_which_key_is_missing(tmp_path):
    with pytest.raises(SystemExit) as stop:
        main([f"out={tmp_path / 'out'}"])
    assert "study=<name>" in str(stop.value)
