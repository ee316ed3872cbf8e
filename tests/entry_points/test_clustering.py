"""`python -m src.clustering` end to end on the generated data: seed 003's autoencoder and
DEC-keras's pretrained (1 seed, 1 epoch on 600 images), then DEC and IDEC on each through the sweeper (two workers: the
drivers pass the storage as ${oc.env:...}, which the workers' relaunch check must not resolve); the table's every
cell traces to a trial of trials.csv (the rows of the other experiments' committed studies copies
too), it rebuilds from its studies copy alone, and a rerun runs nothing again."""
import csv
from pathlib import Path

import pytest

from src.experiments.common.cells import NOT_RUN
from tests.conftest import data_env
from tests.helpers.markdown import rows_by_name
from tests.helpers.processes import run_module

pytestmark = pytest.mark.slow  # four sweeps, 6 trials


def settings(tmp: Path) -> list[str]:
    return [f"clustering.dir={tmp}", f"clustering.out={tmp / 'results'}", "clustering.datasets=[mnist]",
            "clustering.seeds=1", "clustering.pretraining.seed003=1", "clustering.pretraining.dec_keras=1",
            "clustering.dec_epochs=2", "clustering.limit=600",
            "clustering.cpu_jobs=2", f"hydra.run.dir={tmp / 'logs'}"]


@pytest.fixture(scope="module")
def clustering(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("clustering")
    result = run_module("src.clustering", *settings(tmp), env=data_env())
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return tmp


def test_every_cell_traces_to_a_trial_and_the_table_rebuilds_from_its_copy(clustering):
    out = clustering / "results"
    report = (out / "README.md").read_text()
    with open(out / "trials.csv") as f:
        trials = list(csv.DictReader(f))
    rows = rows_by_name(report, "## MNIST")
    mine = {t["method"]: t for t in trials if t["source"] == "clustering"}
    assert set(mine) == {"k-means on pixels", "autoencoder + k-means (seed 003)", "DEC", "IDEC",
                         "autoencoder + k-means (DEC-keras pretraining)", "DEC (DEC-keras pretraining)",
                         "IDEC (DEC-keras pretraining)"}
    for method, trial in mine.items():
        assert rows[method]["seeds"] == "1"
        assert rows[method]["ACC test (Hungarian, %)"] == f"{100 * float(trial['acc']):.2f}"
        assert rows[method]["NMI test"] == f"{float(trial['nmi']):.3f}"
        assert rows[method]["ARI test"] == f"{float(trial['ari']):.3f}"
    assert mine["DEC"]["study"] == mine["IDEC"]["study"] == "dec_mnist_e2_pre1_limit600"
    assert mine["DEC"]["trial"] != mine["IDEC"]["trial"]
    assert mine["DEC (DEC-keras pretraining)"]["study"] == "dec_mnist_e2_dec_keras1_limit600"
    assert mine["autoencoder + k-means (DEC-keras pretraining)"]["study"] == "dec_keras_mnist_e1_limit600"
    assert rows["DEC"]["published (its protocol)"].startswith("84.3%")
    # a row of another experiment, from its committed copy: its cell is the mean of its trials
    seed001 = [float(t["acc_majority"]) for t in trials if t["method"] == "seed 001's clustering VAE (s=20)"]
    if seed001:
        cell = rows["seed 001's clustering VAE (s=20)"]["ACC test (majority, %)"]
        assert float(cell.split(" ")[0]) == pytest.approx(100 * sum(seed001) / len(seed001), abs=0.006)
    assert "## Fashion-MNIST" not in report and NOT_RUN not in "".join(rows[m]["seeds"] for m in mine)
    assert (out / "figures" / "accuracy_mnist.png").stat().st_size > 0

    rebuilt = clustering / "rebuilt"
    result = run_module("src.clustering", *settings(clustering), "clustering.run=false", f"clustering.out={rebuilt}",
                        f"clustering.storage={out / 'studies.log'}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (rebuilt / "README.md").read_text().replace(str(rebuilt), str(out)) == report  # the rebuild line names its folder


def test_a_rerun_runs_nothing_again(clustering):
    result = run_module("src.clustering", *settings(clustering), env=data_env())
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("already done") == 4  # the two pretrainings and DEC on each


@pytest.mark.parametrize("override, key", [("clustering.datasets=[kmnist]", "clustering.datasets"),
                                           ("clustering.seeds=0", "clustering.seeds"),
                                           ("clustering.dec_epochs=x", "clustering.dec_epochs"),
                                           ("clustering.pretraining.dec_keras=0", "clustering.pretraining.dec_keras"),
                                           ("+clustering.pretraining.seedx=5", "clustering.pretraining.seedx"),
                                           ("clustering.run=maybe", "clustering.run")])
def test_bad_settings_get_one_paragraph_naming_the_key(override, key, tmp_path):
    result = run_module("src.clustering", *settings(tmp_path), override)
    assert result.returncode != 0
    assert key in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "studies.log").exists()
