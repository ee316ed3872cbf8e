import re

from tests.conftest import run_module


def test_throughput_benchmark_runs_on_a_tiny_subset(data_dir):
    result = run_module("benchmarks.throughput", "--limit", "200", env={"DATA_DIR": str(data_dir)})
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert len([line for line in lines if re.match(r"(conv|flat) s=", line)]) == 3
    assert re.fullmatch(r"speedup_vs_standard_pipeline: \d+\.\d+", lines[-1])


def test_sweeper_overhead_benchmark_prints_its_measure():
    # Behaviour only: with three trials, start-up noise can outweigh the per-trial cost,
    # so the value's sign is not asserted (the benchmark is run with its defaults for that).
    result = run_module("benchmarks.sweeper_overhead", "--trials", "3", "--repeats", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    for label in ("hydra basic sweeper", "optuna sweeper", "job's reporting"):
        assert any(re.match(rf"{label}: +-?\d+\.\d ms per", line) for line in lines), label
    assert re.fullmatch(r"optuna_sweeper_overhead_s_per_trial: -?\d+\.\d{3}", lines[-1])
