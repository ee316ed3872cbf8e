"""The Optuna sweeper's own cost per trial, against Hydra's basic sweeper, in one run.

    python -m benchmarks.sweeper_overhead [--trials N] [--storage journal|sqlite|memory]

Both sweep the same trivial Hydra app (tests/helpers/standalone_app, whose job returns at once),
so everything measured is sweeping: composing each job's config, launching it, and for
the Optuna sweeper the storage round trips (claim, params, result) and the progress line.
Each sweeper runs N trials and 1 trial as separate processes; the difference over N - 1
is the time per trial, free of Python start-up and imports. Each sweep is timed --repeats
times and the fastest kept, since start-up time varies by a few hundred ms from run to run
and with few trials that noise can exceed the per-trial cost (the result may then read
negative: run more trials). Also timed: what a training
job adds through its trial (src/trials/reporting.py): 50 epochs of report + should_prune
and 26 user attributes. The last line is `optuna_sweeper_overhead_s_per_trial: X`, the
sum of the two.
"""
import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "tests" / "helpers" / "standalone_app" / "app.py"


def sweep_seconds(args: list[str], cwd: Path) -> float:
    conf = cwd / "conf"  # the same plain config for both sweepers
    conf.mkdir(exist_ok=True)
    (conf / "config.yaml").write_text("x: 0\ny: 0\n")
    start = time.perf_counter()
    subprocess.run([sys.executable, str(APP), f"--config-path={conf}", "-m", *args], cwd=cwd,
                   check=True, capture_output=True, text=True)
    return time.perf_counter() - start


def per_trial(make_args, n: int, workdir: Path, repeats: int) -> float:
    workdir.mkdir(parents=True)

    def fastest(trials: int) -> float:
        # A fresh directory per repeat: a study left from the last repeat would resume.
        return min(sweep_seconds(make_args(trials, workdir / f"n{trials}_{r}"), workdir)
                   for r in range(repeats))

    return (fastest(n) - fastest(1)) / (n - 1)


def job_reporting_seconds(storage_kind: str, workdir: Path, epochs: int = 50, attrs: int = 26) -> float:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = {"journal": lambda: optuna.storages.JournalStorage(
                   optuna.storages.journal.JournalFileBackend(str(workdir / "report.log"))),
               "sqlite": lambda: f"sqlite:///{workdir}/report.db",
               "memory": lambda: None}[storage_kind]()
    study = optuna.create_study(storage=storage, direction="maximize",
                                pruner=optuna.pruners.MedianPruner())
    for _ in range(20):  # a study with some history, as the pruner sees it mid-sweep
        trial = study.ask()
        for epoch in range(epochs):
            trial.report(0.5, epoch)
        study.tell(trial, 0.5)
    trial = study.ask()
    start = time.perf_counter()
    for epoch in range(epochs):
        trial.report(0.6, epoch)
        trial.should_prune()
    for i in range(attrs):
        trial.set_user_attr(f"attr_{i}", 0.5)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--storage", choices=("journal", "sqlite", "memory"), default="journal")
    args = parser.parse_args()

    def optuna_args(n: int, where: Path) -> list[str]:
        storage = {"journal": str(where / "study.log"), "sqlite": f"sqlite:///{where}/study.db",
                   "memory": "null"}[args.storage]
        return ["hydra/sweeper=optuna", "hydra/sweeper/sampler=grid", f"x=range(0,{n})", "y=0",
                f"hydra.sweeper.storage={storage}", "hydra.sweeper.n_trials=null",
                f"hydra.sweep.dir={where}/runs"]

    def basic_args(n: int, where: Path) -> list[str]:
        return ["x=" + ",".join(str(i) for i in range(n)), "y=0",
                f"hydra.sweep.dir={where}/runs"]

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        optuna_s = per_trial(optuna_args, args.trials, work / "optuna", args.repeats)
        basic_s = per_trial(basic_args, args.trials, work / "basic", args.repeats)
        report_s = job_reporting_seconds(args.storage, work)
    print(f"trials per sweep: {args.trials} (fastest of {args.repeats}); Optuna storage: {args.storage}")
    print(f"hydra basic sweeper: {basic_s * 1000:.1f} ms per job")
    print(f"optuna sweeper:      {optuna_s * 1000:.1f} ms per trial "
          f"({optuna_s / basic_s:.2f}x the basic sweeper)")
    print(f"job's reporting:     {report_s * 1000:.1f} ms per trial (50 epochs, 26 attributes)")
    print(f"optuna_sweeper_overhead_s_per_trial: {optuna_s + report_s:.3f}")


if __name__ == "__main__":
    main()
