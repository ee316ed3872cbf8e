"""Sweep throughput: Table 1 trials finished per hour, and how busy the devices were.

    python -m benchmarks.sweep_throughput [--minutes M] [--dir DIR] [reproduce.key=value ...]

Runs the real `python -m src.reproduce` (the `make reproduce` sweep: both data sets, conv
and flat, the full grid, 50 epochs, 3 seeds, the paper's reading (`reproduce.levers=none`), unless
`reproduce.*` arguments say otherwise)
into a fresh folder, stops it after M minutes if it has not finished, and prints the wall
time, the trials finished, trials per hour, and the devices' utilization sampled every
second during the sweep: every GPU's (nvidia-smi's utilization.gpu) where there are GPUs,
the CPU's busy fraction (/proc/stat) always. Its last line is `trials_per_hour: X`.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import optuna

from src.trials.records import open_studies


class UtilizationSampler(threading.Thread):
    """Samples GPU (nvidia-smi) and CPU (/proc/stat) utilization every `interval` seconds."""

    def __init__(self, interval: float = 1.0):
        super().__init__(daemon=True)
        self.interval = interval
        self.gpu: list[float] = []  # mean over the GPUs, per sample, in %
        self.cpu: list[float] = []
        self.stopped = threading.Event()
        self.nvidia_smi = shutil.which("nvidia-smi")

    @staticmethod
    def cpu_times() -> tuple[int, int] | None:
        try:
            with open("/proc/stat") as f:
                values = [int(v) for v in f.readline().split()[1:]]
        except OSError:
            return None
        idle = values[3] + values[4]  # idle + iowait
        return sum(values) - idle, sum(values)

    def gpu_sample(self) -> float | None:
        if self.nvidia_smi is None:
            return None
        result = subprocess.run([self.nvidia_smi, "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
                                capture_output=True, text=True)
        values = [float(v) for v in result.stdout.split() if v.strip().replace(".", "", 1).isdigit()]
        return sum(values) / len(values) if result.returncode == 0 and values else None

    def run(self) -> None:
        last = self.cpu_times()
        while not self.stopped.wait(self.interval):
            gpu = self.gpu_sample()
            if gpu is not None:
                self.gpu.append(gpu)
            now = self.cpu_times()
            if last and now and now[1] > last[1]:
                self.cpu.append(100.0 * (now[0] - last[0]) / (now[1] - last[1]))
            last = now

    def stop(self) -> None:
        self.stopped.set()
        self.join()


def run_sweep(args: list[str], folder: Path, minutes: float) -> tuple[float, bool]:
    """Run src.reproduce into `folder` for at most `minutes`; (wall seconds, finished)."""
    # The paper's reading unless asked otherwise: the throughput measured before the levers existed
    levers = [] if any(a.startswith("reproduce.levers=") for a in args) else ["reproduce.levers=none"]
    command = [sys.executable, "-m", "src.reproduce", f"reproduce.dir={folder}", "reproduce.report=false",
               f"hydra.run.dir={folder / 'logs'}", *levers, *args]
    print("$ " + " ".join(["python", *command[1:]]), flush=True)
    start = time.perf_counter()
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL)
    try:
        rc = process.wait(timeout=minutes * 60)
        return time.perf_counter() - start, rc == 0
    except subprocess.TimeoutExpired:
        # SIGTERM, as `timeout` sends: src.reproduce passes it on to its sweeps, which record
        # their running trials and exit (resumable). Unlike SIGINT it cannot be lost while
        # Python is still starting up (a KeyboardInterrupt there can be caught by library code).
        os.killpg(process.pid, signal.SIGTERM)
        seconds = time.perf_counter() - start
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        return seconds, False


def finished_trials(storage_path: Path) -> list[optuna.trial.FrozenTrial]:
    storage, names = open_studies(str(storage_path))  # no journal file yet: no studies
    return [t for name in names
            for t in optuna.load_study(study_name=name, storage=storage).get_trials(
                deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))]


def mean(values: list[float]) -> str:
    return f"{sum(values) / len(values):.1f}%" if values else "n/a"


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=15.0, help="stop the sweep after this long")
    parser.add_argument("--dir", default=None, help="where the studies go (default: a temporary folder)")
    parser.add_argument("reproduce", nargs="*", help="reproduce.key=value overrides (conf/reproduce.yaml)")
    args = parser.parse_args(argv)
    if args.minutes <= 0:
        parser.error(f"--minutes must be > 0, got {args.minutes}")

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.dir or tmp).resolve()
        sampler = UtilizationSampler()
        sampler.start()
        seconds, finished = run_sweep(args.reproduce, folder, args.minutes)
        sampler.stop()
        trials = finished_trials(folder / "studies.log")
        durations = [t.duration.total_seconds() for t in trials if t.duration]

    rate = len(trials) / seconds * 3600
    ending = "all planned trials finished" if finished else f"stopped after {args.minutes:g} min"
    print(f"wall: {seconds:.1f} s ({ending})")
    print(f"trials finished: {len(trials)}; mean trial wall time: "
          f"{sum(durations) / len(durations) if durations else float('nan'):.1f} s")
    print(f"gpu utilization: {mean(sampler.gpu)} (nvidia-smi, {len(sampler.gpu)} samples)"
          if sampler.nvidia_smi else "gpu utilization: no GPU")
    print(f"cpu utilization: {mean(sampler.cpu)} ({os.cpu_count()} cores, {len(sampler.cpu)} samples)")
    print(f"trials_per_hour: {rate:.1f}")
    return rate


if __name__ == "__main__":
    main()
