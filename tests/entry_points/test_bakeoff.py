"""`python -m src.bakeoff` end to end on the generated data: two models under both protocols, one
seed, 1 epoch on 600 images, and seed 003's autoencoder beside them from a study of its own (as
the clustering experiment stores it); the report's every score cell traces to a trial, and it
rebuilds from its studies copy alone."""
import csv
import shutil
from pathlib import Path

import pytest

from src.experiments.common.cells import NOT_RUN
from tests.conftest import data_env
from tests.helpers.markdown import rows_by_name
from tests.helpers.processes import run_module

pytestmark = pytest.mark.slow  # two sweeps, 5 trials

MODELS = ["vanilla", "vae"]


def settings(tmp: Path) -> list[str]:
    return [f"bakeoff.dir={tmp}", f"bakeoff.out={tmp / 'results'}", "bakeoff.datasets=[mnist]",
            f"bakeoff.models=[{','.join(MODELS)}]", "bakeoff.seeds=1", "bakeoff.epochs=1", "bakeoff.limit=600",
            "bakeoff.cpu_jobs=1", f"bakeoff.seed003_storage={tmp / 'seed003.log'}", f"hydra.run.dir={tmp / 'logs'}"]


@pytest.fixture(scope="module")
def bakeoff(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("bakeoff")
    result = run_module("src.train", "-m", "sweep=seed003_mnist", "epochs=1", "dataset.limit=600",
                        "hydra.sweeper.params.seed='range(0,1)'", "hydra.sweeper.study_name=seed003_mnist_e1_limit600",
                        f"hydra.sweeper.storage={tmp / 'seed003.log'}", f"hydra.sweep.dir={tmp / 'seed003'}",
                        env=data_env())
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    result = run_module("src.bakeoff", *settings(tmp), env=data_env())
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return tmp


def test_every_cell_traces_to_a_trial_and_the_report_rebuilds_from_its_copy(bakeoff):
    out = bakeoff / "results"
    report = (out / "README.md").read_text()
    with open(out / "trials.csv") as f:
        trials = list(csv.DictReader(f))
    assert {(t["model"], t["protocol"]) for t in trials} == {
        *((m, p) for m in MODELS for p in ("features", "anomaly")), ("seed003_ae", "features")}
    features = rows_by_name(report, "### Reconstruction")
    anomaly = rows_by_name(report, "### Anomaly")
    for model in MODELS:
        mine = {t["protocol"]: t for t in trials if t["model"] == model}
        assert features[model]["reconstruction BCE"] == f"{float(mine['features']['test_bce']):.2f} (1 seed)"
        assert features[model]["linear probe"] == f"{float(mine['features']['probe_code_test_acc']):.4f} (1 seed)"
        assert features[model]["k-means NMI"] == f"{float(mine['features']['kmeans_test_nmi']):.3f} (1 seed)"
        assert anomaly[model]["anomaly AUC"] == f"{float(mine['anomaly']['anomaly_test_auc']):.3f} (1 seed)"
    seed003 = rows_by_name(report, "### Autoencoder + k-means")
    mine = next(t for t in trials if t["model"] == "seed003_ae")
    assert seed003["seed 003's autoencoder (latent 10)"]["NMI"] == f"{float(mine['kmeans_test_nmi']):.3f} (1 seed)"
    assert seed003["raw pixels (28x28; in seed 003's runs)"]["NMI"] == f"{float(mine['kmeans_pixels_test_nmi']):.3f} (1 seed)"
    assert features["vanilla"]["BCE, ae_bakeoff"] == "63.92"
    assert features["vae"]["probe, ae_bakeoff"] == "0.6016"
    assert "## Fashion-MNIST" not in report and NOT_RUN not in report.split("## KMNIST")[0]
    assert report.split("## KMNIST")[1].split("## Runs")[0].strip().startswith(NOT_RUN)  # no offline copy
    assert (out / "figures" / "mnist" / "vae_features_samples.png").stat().st_size > 0
    assert all((out / "figures" / f"mnist_{p}_latent_maps.png").stat().st_size > 0 for p in ("features", "anomaly"))
    assert not (out / "figures" / "mnist" / "vanilla_features_samples.png").exists()  # no prior

    rebuilt = bakeoff / "rebuilt"
    result = run_module("src.bakeoff", *settings(bakeoff), "bakeoff.run=false", f"bakeoff.out={rebuilt}",
                        f"bakeoff.storage={out / 'studies.log'}")
    assert result.returncode == 0, result.stderr[-3000:]
    strip = lambda text: text.split("### Pictures")[0]  # noqa: E731  (the figures need the run directories)
    assert strip((rebuilt / "README.md").read_text()) == strip(report)


def test_a_report_rebuilt_where_the_run_directories_are_gone_keeps_its_figures(bakeoff, tmp_path):
    out = tmp_path / "results"
    shutil.copytree(bakeoff / "results", out)
    runs = [p for p in bakeoff.iterdir() if p.is_dir() and p.name.startswith(("bakeoff_", "seed003"))]
    for run in runs:
        run.rename(tmp_path / run.name)
    try:
        result = run_module("src.bakeoff", *settings(bakeoff), "bakeoff.run=false", f"bakeoff.out={out}",
                            f"bakeoff.storage={out / 'studies.log'}")
    finally:
        for run in runs:
            (tmp_path / run.name).rename(run)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (out / "README.md").read_text() == (bakeoff / "results" / "README.md").read_text()


def test_a_rerun_runs_nothing_again(bakeoff):
    result = run_module("src.bakeoff", *settings(bakeoff), env=data_env())
    assert result.returncode == 0, result.stderr[-3000:]
    assert "already done" in result.stdout


def test_a_report_over_a_copy_its_storage_lacks_is_refused_naming_this_drivers_keys(bakeoff, tmp_path):
    before = (bakeoff / "results" / "studies.log").read_bytes()
    result = run_module("src.bakeoff", *settings(bakeoff), "bakeoff.run=false",
                        f"bakeoff.storage={tmp_path / 'other.log'}", env=data_env())
    assert result.returncode == 2, result.stderr[-3000:]
    assert "bakeoff.storage" in result.stderr and "bakeoff.out" in result.stderr
    assert "reproduce." not in result.stderr and "Traceback" not in result.stderr
    assert (bakeoff / "results" / "studies.log").read_bytes() == before


@pytest.mark.parametrize("override, key", [("bakeoff.models=[vanila]", "bakeoff.models"),
                                           ("bakeoff.datasets=[kmnist]", "bakeoff.datasets"),
                                           ("bakeoff.seeds=0", "bakeoff.seeds"),
                                           ("bakeoff.run=maybe", "bakeoff.run")])
def test_bad_settings_get_one_paragraph_naming_the_key(override, key, tmp_path):
    result = run_module("src.bakeoff", *settings(tmp_path), override)
    assert result.returncode != 0
    assert key in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "studies.log").exists()
