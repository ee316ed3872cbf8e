import re

import pytest
from optuna.trial import TrialState

from benchmarks.throughput import project_config, step_flops
from tests.entry_points.test_reproduce import study_trials
from tests.helpers.processes import run_module

pytestmark = pytest.mark.slow  # sweeps and several training processes: minutes


def test_throughput_benchmark_runs_on_a_tiny_subset(data_dir):
    result = run_module("benchmarks.throughput", "--limit", "200", env={"DATA_DIR": str(data_dir)})
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    rows = [line for line in lines if re.match(r"(conv|flat) s=", line)]
    assert len(rows) == 3
    # the project's settings are the config's, and the flat model is compiled by default
    assert "precision 32-true, compile False, keep_freed_memory True" in rows[0] and "compile True" in rows[2]
    assert all(re.search(r"compute floor \d+\.\d\d s, project at \d+% of it", row) for row in rows)
    assert any(re.fullmatch(r"matmul rate \(32-true\): \d+ GFLOP/s", line) for line in lines)
    assert re.fullmatch(r"speedup_vs_standard_pipeline: \d+\.\d+", lines[-1])


def test_compute_floor_counts_every_matmul_of_a_training_step():
    cfg = project_config(["model=flat_vae", "latent=10", "hidden=512"])
    # encoder, mean and log-variance heads, decoder (two layers), classifier (two layers)
    layers = [(784, 512), (512, 10), (512, 10), (10, 512), (512, 784), (10, 256), (256, 10)]
    forward = 2 * 100 * sum(n_in * n_out for n_in, n_out in layers)
    # backward: twice the forward, less the encoder's input gradient (the image needs none)
    assert step_flops(cfg, num_classes=10, batch_size=100) == 3 * forward - 2 * 100 * 784 * 512


def test_throughput_benchmark_takes_project_overrides(data_dir):
    result = run_module("benchmarks.throughput", "--limit", "200", "--epochs", "1", "--model", "flat s=10 m=512",
                        "trainer.precision=64-true", "model.compile=false", "keep_freed_memory=false",
                        env={"DATA_DIR": str(data_dir)})
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if re.match(r"(conv|flat) s=", line)]
    assert len(rows) == 1
    assert "project: precision 64-true, compile False, keep_freed_memory False" in rows[0]
    assert re.search(r"matmul rate \(64-true\): \d+ GFLOP/s", result.stdout)


def test_sweeper_overhead_benchmark_prints_its_measure():
    # Behaviour only: with three trials, start-up noise can outweigh the per-trial cost,
    # so the value's sign is not asserted (the benchmark is run with its defaults for that).
    result = run_module("benchmarks.sweeper_overhead", "--trials", "3", "--repeats", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    for label in ("hydra basic sweeper", "optuna sweeper", "job's reporting"):
        assert any(re.match(rf"{label}: +-?\d+\.\d ms per", line) for line in lines), label
    assert re.fullmatch(r"optuna_sweeper_overhead_s_per_trial: -?\d+\.\d{3}", lines[-1])


SMALL_SWEEP = ["reproduce.datasets=[mnist]", "reproduce.models=[flat_vae]", "reproduce.latent=[10]",
               "reproduce.grid=paper", "reproduce.epochs=1", "reproduce.limit=200"]


def test_sweep_throughput_counts_the_trials_of_a_real_sweep(data_dir, tmp_path):
    result = run_module("benchmarks.sweep_throughput", "--dir", str(tmp_path), *SMALL_SWEEP, "reproduce.seeds=2",
                        env={"DATA_DIR": str(data_dir)})
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "all planned trials finished" in out
    assert "trials finished: 2;" in out  # seed 0 at the paper's point, then seed 1
    assert re.search(r"^cpu utilization: \d+\.\d%", out, re.M)
    rate = float(re.search(r"^trials_per_hour: (\d+\.\d)$", out.strip().splitlines()[-1]).group(1))
    wall = float(re.search(r"^wall: (\d+\.\d) s", out, re.M).group(1))
    assert abs(rate - 2 / wall * 3600) < 0.1 + 0.01 * rate


def test_sweep_throughput_stops_a_sweep_at_its_time_limit(data_dir, tmp_path):
    # 12 s: long enough for src.reproduce to have started its first sweep, short of its 10 trials
    result = run_module("benchmarks.sweep_throughput", "--dir", str(tmp_path), "--minutes", "0.2",
                        *SMALL_SWEEP, "reproduce.seeds=10", env={"DATA_DIR": str(data_dir)})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "stopped after 0.2 min" in result.stdout
    finished = int(re.search(r"trials finished: (\d+);", result.stdout).group(1))
    assert finished < 10
    # a trial the stop caught is recorded (FAIL, its point queued again), not left RUNNING
    states = {t.state for trials in study_trials(tmp_path / "studies.log").values() for t in trials}
    assert TrialState.RUNNING not in states


def test_throughput_benchmark_times_a_bakeoff_autoencoder_on_padded_images(data_dir):
    result = run_module("benchmarks.throughput", "--limit", "512", "--epochs", "1", "--model", "bakeoff vanilla s=20",
                        env={"DATA_DIR": str(data_dir)})
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("bakeoff vanilla s=20")]
    assert len(rows) == 1 and re.search(r"compute floor \d+\.\d+ s", rows[0])
    cfg = project_config(["model=bakeoff/vanilla", "latent=20", "dataset.image_size=32"])
    layers = [(1024, 341), (341, 113), (113, 20), (20, 113), (113, 341), (341, 1024)]  # the padded 1,024 pixels
    forward = 2 * 256 * sum(n_in * n_out for n_in, n_out in layers)
    assert step_flops(cfg, num_classes=10, batch_size=256) == 3 * forward - 2 * 256 * 1024 * 341
