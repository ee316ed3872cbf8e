"""Single runs: killed and resumed with `resume=<run dir>`; reproducible from seed and config."""
import csv
import json
import signal
import subprocess
import sys

import pytest
import torch

from tests.helpers.processes import ROOT, run_module, wait_for

pytestmark = pytest.mark.slow  # sweeps and several training processes: minutes

TINY = ["dataset.limit=256", "latent=4", "hidden=32", "tasks=[loss,clustering]"]  # small, quick checkpoints
EPOCHS = 6


def test_killed_run_resumes_to_its_final_epoch_without_gap_or_duplicate(data_dir, tmp_path):
    run = tmp_path / "run"
    ckpt = run / "checkpoints" / "last.ckpt"
    proc = subprocess.Popen([sys.executable, "-m", "src.train", f"epochs={EPOCHS}", *TINY, f"data_dir={data_dir}",
                             f"hydra.run.dir={run}"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(ckpt.exists, timeout=120)
        proc.send_signal(signal.SIGKILL)  # at once: in the second epoch, as a rule
    finally:
        proc.wait()
    killed_at = torch.load(ckpt, weights_only=True)["epoch"]
    assert killed_at < EPOCHS - 1 and not (run / "metrics.json").exists()

    result = run_module("src.train", f"resume={run}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert torch.load(ckpt, weights_only=True)["epoch"] == EPOCHS - 1  # the last epoch's
    metrics = json.loads((run / "metrics.json").read_text())
    assert [row["epoch"] for row in metrics["history"]] == list(range(EPOCHS))
    assert json.loads((run / "run.json").read_text())["resumed_from"] == str(ckpt)
    with open(run / "logs" / "metrics.csv", newline="") as f:
        val_epochs = [int(row["epoch"]) for row in csv.DictReader(f) if row["val/acc"]]
    assert val_epochs == list(range(EPOCHS))

    before = {p: p.stat().st_mtime_ns for p in run.rglob("*")}
    again = run_module("src.train", f"resume={run}")
    assert again.returncode == 0 and "is finished" in again.stdout, again.stderr[-3000:]
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*")} == before


# flat: compiled (model.compile=true). c shows that a difference would show; the seed reaches
# both models the same way, so once is enough.
@pytest.mark.parametrize("model, runs", [("conv_vae", {"a": "seed=0", "b": "seed=0", "c": "seed=1"}),
                                         ("flat_vae", {"a": "seed=0", "b": "seed=0"})], ids=["conv_vae", "flat_vae"])
def test_same_seed_and_config_give_identical_metrics(data_dir, tmp_path, model, runs):
    procs = {name: subprocess.Popen([sys.executable, "-m", "src.train", f"model={model}", "epochs=1", seed, *TINY,
                                     f"data_dir={data_dir}", f"hydra.run.dir={tmp_path / name}"],
                                    cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(tmp_path / f"{name}.err", "w"))
             for name, seed in runs.items()}  # side by side: the same machine state for each
    for name, proc in procs.items():
        assert proc.wait(timeout=600) == 0, (tmp_path / f"{name}.err").read_text()[-3000:]
    metrics = {name: (tmp_path / name / "metrics.json").read_bytes() for name in runs}
    assert metrics["a"] == metrics["b"]
    if "c" in metrics:
        assert metrics["a"] != metrics["c"]
