"""The real entry point, as a user runs it, on tiny subsets."""
import json
import math
import re

import pandas as pd
import pytest

from src.runtime.config_check import cpu_has_bf16
from tests.helpers.processes import run_module

TINY = ["epochs=1", "dataset.limit=512"]


@pytest.mark.slow
def test_multirun_latent_line_makes_one_run_dir_each(data_dir, tmp_path):
    result = run_module("src.train", "-m", "latent=2,5", *TINY, f"hydra.sweep.dir={tmp_path}",
                        env={"DATA_DIR": str(data_dir)})
    assert result.returncode == 0, result.stderr[-3000:]
    runs = sorted(p for p in tmp_path.iterdir() if p.is_dir() and (p / "metrics.json").exists())
    assert [p.name for p in runs] == ["0", "1"]
    for run, latent in zip(runs, (2, 5)):
        metrics = json.loads((run / "metrics.json").read_text())
        for split, n in (("train", 512), ("val", 100), ("test", 512)):
            loss, scores = metrics["loss"][split], metrics["clustering"][split]
            assert loss["n"] == scores["n"] == n
            assert {"loss", "recon", "kl", "cat"} <= loss.keys()
            assert {"acc", "acc_majority", "nmi", "ari"} <= scores.keys()
            assert 0.1 <= scores["acc"] <= scores["acc_majority"] <= 1.0
        assert metrics["pictures"] == {"files": ["clusters.png", "reconstructions.png"]}
        assert len(metrics["history"]) == 1
        assert f"latent: {latent}" in (run / "config.yaml").read_text()
        assert (run / "checkpoints" / "last.ckpt").exists()
        for picture in ("clusters.png", "reconstructions.png"):
            assert (run / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert re.search(r"test\s+\d+\.\d+\s+\d+\.\d+%", result.stdout)


@pytest.mark.slow
def test_flat_model_on_fashion_mnist_runs(data_dir, tmp_path):
    result = run_module("src.train", "model=flat_vae", "dataset=fashion_mnist", "latent=10",
                        "hidden=100", "tasks=[loss,clustering]", "model.compile=false", *TINY, f"hydra.run.dir={tmp_path}",
                        env={"DATA_DIR": str(data_dir)})
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["loss"]["test"]["n"] == 512 and "pictures" not in metrics
    assert "FlatEncoder" in (tmp_path / "config.yaml").read_text()


@pytest.mark.skipif(not cpu_has_bf16(), reason="this CPU has no bf16 kernels: bf16 is refused (test_bad_input)")
def test_bf16_weights_train_and_are_evaluated(data_dir, tmp_path):
    # bf16-true: the weights themselves are bf16 during the fit; the final evaluation and the
    # pictures run in fp32 (their inputs are fp32 images and noise).
    result = run_module("src.train", "trainer.precision=bf16-true", *TINY, f"hydra.run.dir={tmp_path}",
                        env={"DATA_DIR": str(data_dir)})
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    for split in ("train", "val", "test"):
        assert all(math.isfinite(metrics["loss"][split][k]) for k in ("loss", "recon", "kl", "cat"))
    assert math.isfinite(metrics["history"][0]["train_loss"])
    assert (tmp_path / "clusters.png").exists()


def test_cfg_job_shows_the_composed_config():
    result = run_module("src.train", "--cfg", "job", "model=flat_vae", "latent=7")
    assert result.returncode == 0, result.stderr
    assert "latent: 7" in result.stdout and "FlatEncoder" in result.stdout


@pytest.mark.parametrize("args, returncode", [(["--cfg", "job"], 0), (["latent=0"], 2)])
def test_a_process_that_does_not_train_does_not_import_torch(args, returncode, tmp_path):
    # torch, torchvision and Lightning take seconds to import; only a run that trains needs them
    result = run_module("src.train", *args, f"hydra.run.dir={tmp_path}", env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == returncode, result.stderr[-3000:]
    assert "| src.train" in result.stderr  # the import profile is there
    assert not re.findall(r"\|\s+(torch|torchvision|pytorch_lightning)$", result.stderr, re.M)


@pytest.mark.slow
def test_missing_data_is_one_clear_paragraph(tmp_path):
    # The other bad inputs: tests/faults/test_bad_input.py (in process); this one as a user runs it.
    result = run_module("src.train", "dataset.download=false", f"data_dir={tmp_path}/empty",
                        f"hydra.run.dir={tmp_path}/run")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "train-images-idx3-ubyte" in result.stderr and f"{tmp_path}/empty/MNIST/raw" in result.stderr


@pytest.mark.slow
def test_nan_loss_stops_the_run_naming_epoch_and_step(data_dir, tmp_path):
    result = run_module("src.train", "lr=1e30", "tasks=[loss,clustering]", *TINY, f"hydra.run.dir={tmp_path}",
                        env={"DATA_DIR": str(data_dir)})
    assert result.returncode == 1, result.stderr[-2000:]
    assert re.search(r"NaN or infinite at epoch 0, step \d+", result.stderr)
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "metrics.json").exists()


@pytest.mark.slow
def test_ddp_over_two_cpu_processes_trains_and_writes_one_run(data_dir, tmp_path):
    # trainer=ddp as on a machine with GPUs, here as two CPU processes (gloo). 501 images:
    # 100 held out, 401 to train on, which two ranks cannot share evenly (a run that gave
    # one rank a batch more hung in the all-reduce; at the timeout run_module kills both ranks).
    result = run_module("src.train", "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2", "epochs=2",
                        "dataset.limit=501", "tasks=[loss,clustering]", f"hydra.run.dir={tmp_path}",
                        env={"DATA_DIR": str(data_dir)}, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["loss"]["train"]["n"] == 501 and [row["epoch"] for row in metrics["history"]] == [0, 1]
    # Lightning's warning for metrics that differ between ranks
    assert "sync_dist" not in result.stdout + result.stderr


@pytest.mark.slow
def test_a_single_run_keeps_library_chatter_off_the_console(data_dir, tmp_path):
    result = run_module("src.train", "epochs=2", "model=flat_vae", "model.compile=false", "dataset.limit=512",
                        "tasks=[loss,clustering]", f"hydra.run.dir={tmp_path}", env={"DATA_DIR": str(data_dir)})
    assert result.returncode == 0, result.stderr[-3000:]
    console = result.stdout + result.stderr
    for chatter in ("GPU available", "TPU available", "Tip:", "site-packages", "log_every_n_steps"):
        assert chatter not in console, chatter
    assert "split      loss" in console  # the summary is there
    log = (tmp_path / "train.log").read_text()
    assert "GPU available" in log and "log_every_n_steps" in log  # kept in the run's log


@pytest.mark.slow
def test_evaluate_runs_tasks_again_on_a_finished_run(data_dir, tmp_path):
    result = run_module("src.train", "epochs=1", "model=flat_vae", "model.compile=false", "dataset.limit=512",
                        "tasks=[loss]", "objective=loss.val.loss", f"hydra.run.dir={tmp_path}",
                        env={"DATA_DIR": str(data_dir)})
    assert result.returncode == 0, result.stderr[-3000:]
    before = json.loads((tmp_path / "metrics.json").read_text())
    assert "clustering" not in before

    result = run_module("src.evaluate", f"run={tmp_path}", "tasks=clustering,pictures")
    assert result.returncode == 0, result.stderr[-3000:]
    after = json.loads((tmp_path / "metrics.json").read_text())
    assert after["loss"] == before["loss"] and after["history"] == before["history"]
    assert after["clustering"]["test"]["n"] == 512 and 0 <= after["clustering"]["test"]["acc"] <= 1
    assert (tmp_path / "clusters.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    bad = run_module("src.evaluate", f"run={tmp_path / 'nosuch'}")
    assert bad.returncode == 2 and "config.yaml is missing" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.slow
@pytest.mark.parametrize("model", ["conv_vae", "seed001_vae"])
def test_every_lever_switched_on_trains_and_evaluates(model, data_dir, tmp_path):
    """One epoch pretrained as a plain VAE (its KL weighted half), then the k-means start and one
    epoch with every other lever; the paper's form of the loss is what the trial would carry."""
    result = run_module("src.train", f"model={model}", "levers=all", "scheduler=cosine", "epochs=2",
                        "model.pretrain_epochs=1", "model.kl_warmup_epochs=2", "model.pretrain_kl_weight=0.5",
                        "latent=5", "layers=2",
                        "hidden=32", "dataset.limit=1000", "tasks=[loss,clustering]", f"hydra.run.dir={tmp_path}",
                        env={"DATA_DIR": str(data_dir)})
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    first, second = metrics["history"]
    # pretraining: half of a third of the KL (warm-up over 2 epochs), no category or balance term
    assert first["train_loss"] == pytest.approx(first["train_recon"] + first["train_kl"] / 6, rel=1e-5)
    assert second["train_loss"] != pytest.approx(second["train_paper_loss"])  # two thirds of the KL, the balance term
    test = metrics["loss"]["test"]
    assert test["paper_loss"] == pytest.approx(test["recon"] + test["kl"] + test["cat"], rel=1e-5)
    assert 0 <= metrics["clustering"]["test"]["acc"] <= 1
    assert "k-means start at epoch 1" in (tmp_path / "train.log").read_text()
    assert "kmeans_start_acc" not in first and 0 < second["kmeans_start_acc"] <= 1

    if model == "conv_vae":  # the start tool reads the run back and scores its ways of starting
        start = run_module("src.experiments.levers.start", f"runs=[{tmp_path}]", "dims=[3]", f"out={tmp_path / 'start'}")
        assert start.returncode == 0, start.stderr[-3000:]
        table = pd.read_csv(tmp_path / "start" / "start.csv")
        assert list(table["clustering"]) == ["kmeans", "kmeans on top 3 principal directions", "Gaussian mixture (diagonal)"]
        assert table["latent"].eq(5).all() and table["acc"].between(0.1, 1).all()
        assert 0 < table["active dims"].iloc[0] <= 5
        assert table["pretraining"].eq("vae, 1 epochs, KL weight 0.5").all()
        assert table["val acc at end"].to_list() == pytest.approx([metrics["clustering"]["val"]["acc"]] * 3, abs=1e-4)
