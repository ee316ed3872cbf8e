"""A program that runs the standalone app's sweep in-process, as Hydra's test utilities do
(a test harness, a notebook): its own command line is not the sweep's.

    python in_process_host.py <storage> [override ...]
"""
import sys
from pathlib import Path

from hydra.test_utils.test_utils import SweepTaskFunction

if __name__ == "__main__":
    print("host started", flush=True)
    sweep = SweepTaskFunction()
    sweep.calling_file = str(Path(__file__).with_name("app.py"))
    sweep.config_path, sweep.config_name = "conf", "config"
    sweep.task_function = lambda cfg: cfg.x ** 2
    sweep.overrides = [f"hydra.sweeper.storage={sys.argv[1]}", "hydra.sweeper.n_trials=2", *sys.argv[2:]]
    with sweep:
        print("host finished", flush=True)
