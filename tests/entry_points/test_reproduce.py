"""`python -m src.reproduce` and `python -m src.report` on a small real study made here:
both data sets, s=60 at the paper's (n, m), conv and flat, 2 seeds, 1 epoch on 200 images,
two studies at once."""
import csv
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import matplotlib.image
import optuna
import pytest
import torch
from omegaconf import OmegaConf

from src.experiments.common.sweep_pool import SweepPool, shown, sweep_command, sweep_env
from src.experiments.table1.report import build_report
from src.experiments.table1.reproduce import check, grid_sweeps, seed_sweep
from src.runtime.errors import UserError
from src.trials.records import finished_runs, open_studies
from tests.conftest import data_env
from tests.helpers.markdown import markdown_table
from tests.helpers.processes import ROOT, run_module

pytestmark = pytest.mark.slow  # sweeps and several training processes: minutes

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FIGURES = ["acc_vs_s_mnist.png", "acc_vs_s_fashion_mnist.png", "conv_vs_flat_mnist.png",
           "conv_vs_flat_fashion_mnist.png", "samples_fashion_mnist.png", "mnist_clusters.png"]
# csv column -> (trial user attribute, scale)
TRACED = {"loss train": ("train_loss", 1), "loss test": ("test_loss", 1),
          "acc test (majority)": ("test_acc_majority", 100), "acc test (Hungarian)": ("test_acc", 100)}


def settings(tmp: Path) -> list[str]:
    return [f"reproduce.dir={tmp}", f"reproduce.out={tmp / 'results'}", "reproduce.grid=paper", "reproduce.levers=none",
            "reproduce.latent=[60]", "reproduce.seeds=2", "reproduce.epochs=1", "reproduce.limit=200",
            f"hydra.run.dir={tmp / 'logs'}"]


@pytest.fixture(scope="module")
def reproduction(tmp_path_factory) -> tuple[Path, str]:
    tmp = tmp_path_factory.mktemp("reproduce")
    result = run_module("src.reproduce", *settings(tmp), "reproduce.parallel_studies=2",
                        env=data_env())
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return tmp, result.stdout


@pytest.fixture(scope="module")
def reproduced(reproduction) -> Path:
    return reproduction[0]


def test_parallel_studies_each_log_their_sweep(reproduction):
    tmp, stdout = reproduction
    studies = {r["study"] for r in finished_runs(str(tmp / "studies.log"))}
    assert len(studies) == 8  # 4 grid studies, 4 seed studies
    for study in studies:
        assert f">>> {study}: started, output in" in stdout and f"<<< {study}: done after" in stdout
        log = (tmp / study / "sweep.log").read_text()
        assert f"hydra.sweeper.study_name={study}" in log and "1 COMPLETE" in log


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_every_cell_traces_back_to_its_trials(reproduced):
    rows = read_csv(reproduced / "results" / "table1.csv")
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(reproduced / "studies.log")))
    ran = [r for r in rows if r["trials"]]
    assert {(r["dataset"], r["s"]) for r in ran} == {("mnist", "60"), ("fashion_mnist", "60")}
    for row in ran:
        trials = []
        for ref in row["trials"].split(", "):
            study, number = ref.split("#")
            trials.append(optuna.load_study(study_name=study, storage=storage).trials[int(number)])
        assert sorted(t.user_attrs["seed"] for t in trials) == [0, 1]
        assert int(row["seeds"]) == 2
        for t in trials:
            attrs = t.user_attrs
            assert (attrs["dataset"], attrs["latent"], attrs["layers"], attrs["hidden"]) == (
                row["dataset"], int(row["s"]), int(row["n"]), int(row["m"]))
        for column, (attr, scale) in TRACED.items():
            values = [t.user_attrs[attr] * scale for t in trials]
            assert float(row[f"{column} mean"]) == pytest.approx(statistics.fmean(values), abs=1e-4)
            assert float(row[f"{column} std"]) == pytest.approx(statistics.stdev(values), abs=1e-4)
        assert float(row["diff acc test"]) == pytest.approx(
            float(row["acc test (majority) mean"]) - float(row["paper acc test"]), abs=1e-3)


def test_rows_without_trials_read_not_run(reproduced):
    rows = read_csv(reproduced / "results" / "table1.csv")
    empty = [r for r in rows if not r["trials"]]
    assert len(empty) == len(rows) - 2
    for row in empty:
        assert row["n"] == row["acc test (majority) mean"] == row["diff acc test"] == "not run"
        assert row["seeds"] == "0"
    report = (reproduced / "results" / "table1.md").read_text()
    conv = markdown_table(report, "## Conv-optimized VAE")
    assert {k: conv[0][k] for k in ("data set", "s", "levers", "paper n, m", "our n, m", "acc test (maj.)",
                                    "diff", "label-free pick: seed, acc test (maj.)")} == {
        "data set": "MNIST", "s": "2", "levers": "none", "paper n, m": "2, 128", "our n, m": "not run",
        "acc test (maj.)": "not run", "diff": "not run", "label-free pick: seed, acc test (maj.)": "not run"}
    # the flat baselines' points (s=10 and s=25) were not run either
    assert markdown_table(report, "## Flat-VAE baseline")[0] == {
        "data set": "MNIST", "s": "10", "levers": "none", "m": "100", "seeds": "0", "acc test (maj.)": "not run", "paper": "75.0",
        "diff": "not run", "acc test (Hungarian)": "not run"}


def test_figures_are_written_and_are_valid_pngs(reproduced):
    for name in FIGURES:
        path = reproduced / "results" / name
        assert path.read_bytes()[:8] == PNG_SIGNATURE, name
        image = matplotlib.image.imread(path)
        assert image.ndim == 3 and min(image.shape[:2]) > 100, name
    assert "diversity" in (reproduced / "results" / "table1.md").read_text().lower()


def test_report_alone_rebuilds_the_same_table_and_rerun_trains_nothing(reproduced):
    before = (reproduced / "results" / "table1.csv").read_text()
    (reproduced / "results" / "table1.csv").unlink()
    result = run_module("src.report", *settings(reproduced), env=data_env())
    assert result.returncode == 0, result.stderr[-3000:]
    assert (reproduced / "results" / "table1.csv").read_text() == before

    count = len(finished_runs(str(reproduced / "studies.log")))
    logs = sorted(reproduced.glob("*/sweep.log"))
    before = [log.read_text() for log in logs]
    result = run_module("src.reproduce", *settings(reproduced), "reproduce.report=false",
                        env=data_env())
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(logs) == 8  # 4 grid studies, 4 seed studies: each done, none started again
    assert sorted(line.split()[1].rstrip(":") for line in result.stdout.splitlines()
                  if line.endswith("already done, not started")) == sorted(log.parent.name for log in logs)
    assert [log.read_text() for log in logs] == before
    assert len(finished_runs(str(reproduced / "studies.log"))) == count == 8


def test_studies_that_are_done_are_not_queued_and_take_no_place(reproduced):
    """Else an empty sweep would count as a study running beside the next one, and halve its cores."""
    r = OmegaConf.load(ROOT / "conf" / "reproduce.yaml").reproduce
    r.update({"dir": str(reproduced), "grid": "paper", "latent": [60], "seeds": 2, "epochs": 1, "limit": 200,
              "levers": "none"})
    grids = [s for d in r.datasets for m in r.models for s in grid_sweeps(r, d, m, "none")]
    pool = SweepPool(r)
    try:
        futures = pool.submit(grids + [seed_sweep(r, s) for s in grids])
        assert len(futures) == 8 and all(f.done() and f.result() == 0 for f in futures)
        assert pool.waiting == 0 and not pool.running
    finally:
        pool.executor.shutdown()


def test_the_report_keeps_a_copy_of_its_studies_that_rebuilds_it(reproduced, tmp_path):
    copy = reproduced / "results" / "studies.log"
    studies = {r["study"] for r in finished_runs(str(reproduced / "studies.log"))}
    assert set(open_studies(str(copy))[1]) == studies
    assert len(finished_runs(str(copy))) == 8
    shutil.copytree(reproduced / "results", tmp_path / "results")
    settings = OmegaConf.load(ROOT / "conf" / "reproduce.yaml").reproduce
    settings.update({"storage": str(tmp_path / "results" / "studies.log"), "out": str(tmp_path / "results"),
                     "epochs": 1, "limit": 200, "levers": "none"})
    (tmp_path / "results" / "table1.csv").unlink()
    build_report(settings)  # in place: the copy is read and left as it is
    assert (tmp_path / "results" / "table1.csv").read_text() == (reproduced / "results" / "table1.csv").read_text()
    assert (tmp_path / "results" / "studies.log").read_bytes() == copy.read_bytes()
    assert f"reproduce.storage={reproduced / 'results' / 'studies.log'}" in (
        reproduced / "results" / "table1.md").read_text()


def test_neither_report_nor_reproduce_replaces_studies_the_storage_lacks(reproduced, tmp_path):
    out = tmp_path / "results"
    shutil.copytree(reproduced / "results", out)  # an earlier report, with the copy of its 8 studies
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    other = tmp_path / "other.log"
    optuna.create_study(study_name="elsewhere", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(other))))
    settings = OmegaConf.load(ROOT / "conf" / "reproduce.yaml").reproduce
    settings.update({"storage": str(other), "out": str(out), "epochs": 1, "limit": 200})
    with pytest.raises(UserError, match=f"{out / 'studies.log'} holds 8 studies that reproduce.storage"):
        build_report(settings)

    result = run_module("src.reproduce", f"reproduce.dir={tmp_path / 'new'}", f"reproduce.out={out}",
                        "reproduce.grid=paper", "reproduce.latent=[60]", "reproduce.epochs=1",
                        "reproduce.levers=none", "reproduce.limit=200", f"hydra.run.dir={tmp_path / 'logs'}")
    assert result.returncode == 2 and "nothing was written" in result.stderr and "Traceback" not in result.stderr
    assert f"reproduce.storage={out / 'studies.log'}" in " ".join(result.stderr.split())
    assert not (tmp_path / "new" / "studies.log").exists()  # refused before anything ran
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_a_report_away_from_the_run_directories_has_the_same_numbers_and_says_why_a_picture_is_missing(
        reproduced, tmp_path):
    """A journal copied from another machine, or a study on a shared server, names run
    directories this machine lacks: every number still comes from the storage, and the two
    figures drawn from checkpoints say whose checkpoint is missing."""
    away = list(reproduced.glob("*/trial_*/checkpoints"))
    assert away
    for path in away:
        path.rename(path.with_name("checkpoints.elsewhere"))
    try:
        settings = OmegaConf.load(ROOT / "conf" / "reproduce.yaml").reproduce
        settings.update({"dir": str(reproduced), "out": str(tmp_path), "epochs": 1, "limit": 200, "levers": "none"})
        build_report(settings)
    finally:
        for path in away:
            path.with_name("checkpoints.elsewhere").rename(path)
    assert (tmp_path / "table1.csv").read_text() == (reproduced / "results" / "table1.csv").read_text()
    table = (tmp_path / "table1.md").read_text()
    assert "Generated samples per class (Fashion-MNIST, s=60, n=5, flat and conv): not drawn: the checkpoints of " \
        "flat_fashion_mnist_e1_limit200_s60_paper#0 (" in table
    assert f"MNIST clusters (real members, generated samples): not drawn: the checkpoint of " \
        f"table1_mnist_e1_limit200_s60_paper#0 ({reproduced}" in table
    assert not (tmp_path / "samples_fashion_mnist.png").exists() and not (tmp_path / "mnist_clusters.png").exists()


def test_a_bad_setting_is_refused_before_anything_runs(tmp_path):
    result = run_module("src.reproduce", f"reproduce.dir={tmp_path}", "reproduce.grid=all",
                        f"hydra.run.dir={tmp_path / 'logs'}")
    assert result.returncode == 2
    assert "reproduce.grid" in result.stderr and "allowed: full or paper" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "studies.log").exists()


@pytest.mark.parametrize("key, value", [("seeds", 11), ("seeds", 0), ("epochs", 1.5), ("models", ["resnet"]),
                                        ("datasets", ["svhn"]), ("latent", 5), ("latent", [0]), ("latent", [7]),
                                        ("limit", 10), ("limit", 150), ("cpu_jobs", 0), ("parallel_studies", 0),
                                        ("levers", "nosuch"), ("levers", ["none", "nosuch"]),
                                        ("levers", ["none", "none"]), ("levers", [])])
def test_each_setting_is_checked(key, value):
    settings = OmegaConf.load(ROOT / "conf" / "reproduce.yaml").reproduce
    settings[key] = value
    with pytest.raises(UserError, match=f"'reproduce.{key}' is .*; allowed: "):
        check(settings)


def test_a_setting_whose_pretraining_outlasts_the_run_is_refused_naming_it():
    settings = OmegaConf.load(ROOT / "conf" / "reproduce.yaml").reproduce
    settings.epochs = 5  # a quick check with the default settings: kmeans_vae20_glorot pretrains 20 epochs
    with pytest.raises(UserError, match="'reproduce.levers' is .*kmeans_vae20_glorot pretrains 20.*reproduce.levers=none"):
        check(settings)
    settings.levers = ["none", "kmeans"]  # 5 epochs of pretraining need a sixth
    with pytest.raises(UserError, match="kmeans pretrains 5"):
        check(settings)
    settings.epochs = 6
    check(settings)


def test_a_lever_setting_runs_in_studies_of_its_own():
    r = OmegaConf.load(ROOT / "conf" / "reproduce.yaml").reproduce
    r.levers, r.grid, r.latent = "kmeans", "paper", [60]
    check(r)
    sweeps = grid_sweeps(r, "mnist", "conv_vae", "kmeans")
    assert [s["study"] for s in sweeps] == ["table1_mnist_e50_kmeans_s60_paper"]
    assert "levers=kmeans" in sweep_command(r, sweeps[0])
    # the studies of the paper's reading keep their names
    assert [s["study"] for s in grid_sweeps(r, "mnist", "conv_vae", "none")] == ["table1_mnist_e50_s60_paper"]


def test_report_refuses_a_missing_storage_and_leaves_the_report_alone(tmp_path):
    settings = OmegaConf.load(ROOT / "conf" / "reproduce.yaml").reproduce
    settings.storage, settings.out = str(tmp_path / "nosuch.log"), str(tmp_path / "results")
    with pytest.raises(UserError, match="reproduce.storage.*does not exist"):
        build_report(settings)
    assert not (tmp_path / "results").exists()


def test_recorded_command_lines_hide_storage_passwords():
    line = shown(["python", "-m", "src.reproduce", "reproduce.storage=postgresql://optuna:s3cret@db:5432/optuna"])
    assert "s3cret" not in line and "db:5432/optuna" in line


@pytest.mark.skipif(torch.cuda.is_available(), reason="the cores are shared out when trials run on the CPU")
def test_a_study_that_runs_alone_takes_the_places_of_the_studies_that_cannot_come(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    r = OmegaConf.create({"parallel_studies": 2, "cpu_jobs": 1, "storage": "study.log", "dir": "out", "epochs": 1,
                          "limit": None, "trials_per_gpu": 1})
    pool = SweepPool(r)
    half = str(max(1, (os.cpu_count() or 1) // 2))
    grid = {"stage": "grid", "model": "conv_vae", "dataset": "mnist", "study": "g", "sweep": "table1_mnist",
            "fixed": {"latent": 60},
            "params": {"layers": [1], "hidden": [512]}}
    seeds = {**grid, "stage": "seeds", "study": "s", "params": {"seed": [1, 2, 3]}, "n_trials": 2}

    def start(sweep: dict, running: int, waiting: int) -> tuple[str | None, str | None]:
        """(OMP_NUM_THREADS, hydra.sweeper.n_jobs) of the sweep started now."""
        pool.running, pool.waiting = set(range(running)), waiting
        mine, everyone = pool.trials_at_once(sweep)
        jobs = [a.split("=")[1] for a in sweep_command(r, sweep, mine) if a.startswith("hydra.sweeper.n_jobs=")]
        return sweep_env(r, everyone).get("OMP_NUM_THREADS"), (jobs or [None])[0]

    assert start(grid, running=0, waiting=3) == (half, None)  # the first of four grid studies: two at once
    assert start(seeds, running=1, waiting=0) == (half, None)  # beside a running study
    assert start(grid, running=0, waiting=0) == (None, None)  # alone, one point: every core
    assert start(seeds, running=0, waiting=0) == (half, "2")  # alone: its two seeds side by side
    assert start({**seeds, "n_trials": 1}, running=0, waiting=0) == (None, None)  # alone, one seed
    r.parallel_studies = 1  # one study at a time, one trial at a time: as asked
    assert start(seeds, running=0, waiting=0) == (None, None)
    r.cpu_jobs = 2
    assert start(grid, running=0, waiting=0) == (half, "2")


def study_trials(storage_path: Path) -> dict[str, list]:
    storage, names = open_studies(str(storage_path))  # no journal file yet: no studies
    return {name: optuna.load_study(study_name=name, storage=storage).trials for name in names}


def test_an_interrupt_reaches_every_running_sweep(tmp_path):
    """SIGINT to src.reproduce alone (not its process group) stops both running sweeps cleanly."""
    args = [f"reproduce.dir={tmp_path}", "reproduce.report=false", "reproduce.grid=paper",
            "reproduce.datasets=[mnist]", "reproduce.latent=[60]", "reproduce.seeds=2",
            "reproduce.epochs=1000", "reproduce.limit=200", "reproduce.parallel_studies=2",
            f"hydra.run.dir={tmp_path / 'logs'}"]
    proc = subprocess.Popen([sys.executable, "-m", "src.reproduce", *args], cwd=ROOT, text=True,
                            env={**os.environ, **data_env()},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        running = [t for trials in study_trials(tmp_path / "studies.log").values() for t in trials
                   if t.state == optuna.trial.TrialState.RUNNING]
        if len(running) == 2:
            break
        time.sleep(0.5)
    time.sleep(2)  # into training
    proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=120)[0]
    assert proc.returncode == 130 and "run the same command again to go on" in out, out[-3000:]

    studies = study_trials(tmp_path / "studies.log")
    assert sorted(studies) == ["flat_mnist_e1000_limit200_s60_paper", "table1_mnist_e1000_limit200_s60_paper"]
    for name, trials in studies.items():  # no seeds study started; every trial stopped and recorded
        reasons = [t.user_attrs.get("fail_reason", "") for t in trials if t.state.name != "WAITING"]
        assert len(reasons) == 1 and reasons[0].startswith("interrupted"), (name, reasons)
        assert "run the same command to go on" in (tmp_path / name / "sweep.log").read_text()
    left = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(tmp_path).encode() in cmdline.read_bytes():
                left.append(cmdline.parent.name)
        except OSError:  # the process has just ended
            pass
    assert not left, f"processes still running: {left}"
