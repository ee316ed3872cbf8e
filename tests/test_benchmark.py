import re

from tests.conftest import run_module


def test_throughput_benchmark_runs_on_a_tiny_subset(data_dir):
    result = run_module("benchmarks.throughput", "--limit", "200", env={"DATA_DIR": str(data_dir)})
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert len([line for line in lines if re.match(r"(conv|flat) s=", line)]) == 3
    assert re.fullmatch(r"speedup_vs_standard_pipeline: \d+\.\d+", lines[-1])


def test_sweeper_overhead_benchmark_prints_its_measure():
    result = run_module("benchmarks.sweeper_overhead", "--trials", "3")
    assert result.returncode == 0, result.stderr[-3000:]
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("optuna_sweeper_overhead_s_per_trial: ")
    assert float(last.split(": ")[1]) > 0
