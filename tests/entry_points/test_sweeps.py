"""The project's sweeps (sweeps/*.yaml) through the real entry point and training code, on
tiny subsets: studies in storage, resume, failures, shared studies, PostgreSQL, dashboard."""
import collections
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from tests.conftest import data_env
from tests.helpers import postgres_server
from tests.helpers.processes import ROOT, run_module

pytestmark = pytest.mark.slow  # sweeps and several training processes: minutes

TINY = ["epochs=1", "dataset.limit=256", "tasks=[loss,clustering]"]
# The flat model uncompiled where compiling is not what a test is about: a compile costs
# 4.5 s per process from the inductor cache, 27 s without (docs/speed.md; tests/unit/test_models.py
# and test_run_faults.py run it compiled).
EAGER = ["model.compile=false"]
# A 4-point grid of the Table 1 sweep, small enough for a test.
GRID4 = ["sweep=table1_mnist", "latent=choice(2,5)", "layers=choice(1,2)", "hidden=128"]


def journal(path: Path) -> optuna.storages.JournalStorage:
    return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))


def sweep_args(tmp: Path, storage=None) -> list[str]:
    return [f"hydra.sweeper.storage={storage or tmp / 'study.log'}", f"hydra.sweep.dir={tmp / 'runs'}"]


def sweep_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "src.train", "-m", *args]


def env_with_data() -> dict:
    return {**os.environ, **data_env()}


def trials(storage, name: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=storage).trials


def points(ts, states=(TrialState.COMPLETE,)) -> collections.Counter:
    return collections.Counter(tuple(sorted(t.params.items())) for t in ts if t.state in states)


@pytest.fixture(scope="module")
def search_study(tmp_path_factory):
    """(a) three TPE trials of search_mnist; shared with the dashboard test."""
    tmp = tmp_path_factory.mktemp("search")
    result = run_module("src.train", "-m", "sweep=search_mnist", "hydra.sweeper.n_trials=3", *TINY,
                        *sweep_args(tmp), env=data_env())
    assert result.returncode == 0, result.stderr[-3000:]
    return tmp, result


def test_search_stores_complete_trials_with_their_attributes(search_study):
    tmp, result = search_study
    ts = trials(journal(tmp / "study.log"), "search_mnist")
    assert [t.state for t in ts] == [TrialState.COMPLETE] * 3
    for t in ts:
        assert set(t.params) == {"latent", "layers", "hidden"}
        assert 2 <= t.params["latent"] <= 100 and 1 <= t.params["layers"] <= 6
        attrs = t.user_attrs
        run_dir = Path(attrs["run_dir"])
        metrics = json.loads((run_dir / "metrics.json").read_text())
        assert t.value == pytest.approx(metrics["clustering"]["val"]["acc"])  # the objective is val, not test
        for split in ("train", "test"):
            for score in ("acc", "acc_majority", "nmi", "ari"):
                assert attrs[f"{split}_{score}"] == pytest.approx(metrics["clustering"][split][score])
            assert attrs[f"{split}_loss"] == pytest.approx(metrics["loss"][split]["paper_loss"])
        assert attrs["device"] == "cpu" and attrs["wall_seconds"] > 0
        assert list(t.intermediate_values) == [0]  # one epoch: one reported val accuracy
    lines = [l for l in result.stdout.splitlines() if l.startswith("trial ")]
    assert len(lines) == 3 and "left" in lines[-1] and "best" in lines[-1]
    assert "best clustering.val.acc" in result.stdout  # the objective by name (metric_names)
    study = optuna.load_study(study_name="search_mnist", storage=journal(tmp / "study.log"))
    assert study.metric_names == ["clustering.val.acc"]
    assert "value_clustering.val.acc" in study.trials_dataframe().columns
    assert "Epoch" not in result.stdout + result.stderr  # no progress bars in a sweep


def test_dashboard_serves_the_study(search_study):
    tmp, _ = search_study
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dashboard = Path(sys.executable).parent / "optuna-dashboard"
    proc = subprocess.Popen([str(dashboard), str(tmp / "study.log"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline, body = time.time() + 60, None
        while time.time() < deadline and body is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=5) as r:
                    body = json.loads(r.read())
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
                time.sleep(0.5)
        assert body is not None, "optuna-dashboard did not answer within 60 s"
        studies = body["study_summaries"]
        assert [s["study_name"] for s in studies] == ["search_mnist"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies/{studies[0]['study_id']}",
                                    timeout=30) as r:
            detail = json.loads(r.read())
        trial = detail["trials"][0]
        assert {p["name"] for p in trial["params"]} == {"latent", "layers", "hidden"}
        assert len(trial["intermediate_values"]) == 1
        assert {"run_dir", "test_acc", "train_acc"} <= {a["key"] for a in trial["user_attrs"]}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_interrupted_grid_resumes_without_running_a_point_twice(tmp_path):
    env = env_with_data()
    args = [*GRID4, "epochs=10", "dataset.limit=256", "tasks=[loss,clustering]", *sweep_args(tmp_path)]
    storage = journal(tmp_path / "study.log")
    proc = subprocess.Popen(sweep_command(*args), cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        try:
            if sum(points(trials(storage, "table1_mnist")).values()) >= 2:
                break
        except KeyError:  # the study is not created yet
            pass
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out = proc.communicate(timeout=120)[0]
    first = trials(storage, "table1_mnist")
    # A signal that lands in a finalizer (e.g. during garbage collection) is swallowed by
    # Python: the sweep then stops after the trial it was in, so 2 or 3 points are done.
    assert proc.returncode == 130 and "run the same command to go on" in out, out[-3000:]
    assert sum(points(first).values()) in (2, 3), out[-3000:]
    assert all(t.state != TrialState.RUNNING for t in first), "an interrupted trial must not stay RUNNING"

    again = subprocess.run(sweep_command(*args), cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    complete = points(trials(storage, "table1_mnist"))
    assert len(complete) == 4 and set(complete.values()) == {1}
    # The interrupted point (if the signal caught one) runs first, before a point never started.
    interrupted = [t.number for t in first if t.state == TrialState.FAIL]
    done_before = {t.number for t in first if t.state == TrialState.COMPLETE}
    resumed = sorted((t for t in trials(storage, "table1_mnist")
                      if t.state == TrialState.COMPLETE and t.number not in done_before),
                     key=lambda t: t.datetime_start)
    if interrupted:
        assert resumed[0].user_attrs.get("retry_of") == interrupted[0], [t.number for t in resumed]
    done = subprocess.run(sweep_command(*args), cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0 and "grid is complete" in done.stdout
    assert sum(points(trials(storage, "table1_mnist")).values()) == 4


def test_nan_trial_is_fail_with_its_reason_and_the_sweep_completes(tmp_path):
    result = run_module("src.train", "-m", "sweep=flat_mnist", *EAGER, "latent=5", "hidden=100",
                        "lr=choice(0.001,1e30)",
                        "hydra.sweeper.max_failure_rate=0.5",
                        *TINY, *sweep_args(tmp_path), env=data_env())
    assert result.returncode == 0, result.stderr[-3000:]
    by_lr = {t.params["lr"]: t for t in trials(journal(tmp_path / "study.log"), "flat_mnist")}
    assert by_lr[0.001].state == TrialState.COMPLETE
    assert by_lr[1e30].state == TrialState.FAIL
    assert "NonFiniteLossError" in by_lr[1e30].user_attrs["fail_reason"]
    assert "FAIL (NonFiniteLossError" in result.stdout


def test_pruned_trials_end_as_pruned(tmp_path):
    result = run_module("src.train", "-m", "sweep=flat_mnist", *EAGER, "latent=choice(2,5)", "hidden=100",
                        "hydra/sweeper/pruner=threshold", "hydra.sweeper.pruner.lower=1.01", "epochs=2",
                        "dataset.limit=256", "tasks=[loss,clustering]", *sweep_args(tmp_path),
                        env=data_env())
    assert result.returncode == 0, result.stderr[-3000:]
    ts = trials(journal(tmp_path / "study.log"), "flat_mnist")
    assert [t.state for t in ts] == [TrialState.PRUNED] * 2
    assert all(list(t.intermediate_values) == [0] for t in ts)  # stopped after the first epoch


def test_multi_objective_search_keeps_a_pareto_front(tmp_path):
    result = run_module("src.train", "-m", "sweep=flat_mnist", *EAGER, "latent=5", "hidden=choice(100,200)",
                        "objective=[clustering.val.acc,parameters]", "hydra.sweeper.direction=[maximize,minimize]",
                        *TINY, *sweep_args(tmp_path), env=data_env())
    assert result.returncode == 0, result.stderr[-3000:]
    ts = trials(journal(tmp_path / "study.log"), "flat_mnist")
    assert all(len(t.values) == 2 and t.values[1] == t.user_attrs["parameters"] for t in ts)
    assert "pareto front" in result.stdout


def run_workers(commands: list[list[str]], env: dict) -> list[subprocess.CompletedProcess]:
    procs = [subprocess.Popen(c, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for c in commands]
    outs = [p.communicate(timeout=600) for p in procs]
    return [subprocess.CompletedProcess(p.args, p.returncode, o, e) for p, (o, e) in zip(procs, outs)]


def assert_each_point_once(ts, n: int) -> None:
    complete = points(ts)
    assert len(complete) == n and set(complete.values()) == {1}, complete
    assert not [t for t in ts if t.state == TrialState.FAIL], "no duplicate or failed claims"


def test_two_workers_share_one_study_and_run_each_point_once(tmp_path):
    command = sweep_command(*GRID4, *TINY, *sweep_args(tmp_path))
    results = run_workers([command, command], env_with_data())
    assert [r.returncode for r in results] == [0, 0], results[0].stderr[-2000:] + results[1].stderr[-2000:]
    assert_each_point_once(trials(journal(tmp_path / "study.log"), "table1_mnist"), 4)


def test_n_jobs_starts_workers_that_share_the_study(tmp_path):
    result = run_module("src.train", "-m", *GRID4, *TINY, "hydra.sweeper.n_jobs=2", *sweep_args(tmp_path),
                        env=data_env())
    assert result.returncode == 0, result.stderr[-3000:]
    ts = trials(journal(tmp_path / "study.log"), "table1_mnist")
    assert_each_point_once(ts, 4)
    assert "2 workers started" in result.stdout
    assert {"[worker 0]", "[worker 1]"} >= {l[:10] for l in result.stdout.splitlines() if l.startswith("[worker")}


@pytest.fixture(scope="module")
def postgres_url():
    """A PostgreSQL server: OPTUNA_TEST_POSTGRES_URL (.ci/run starts one), or one started here."""
    pytest.importorskip("psycopg", reason="psycopg missing: pip install -e '.[postgres]'")
    if os.environ.get("OPTUNA_TEST_POSTGRES_URL"):
        yield os.environ["OPTUNA_TEST_POSTGRES_URL"]
        return
    if postgres_server.bin_dir() is None:
        print("no PostgreSQL server binary found (install Debian's postgresql package)")
        pytest.skip("no PostgreSQL server binary (pg_ctl, initdb) found; install Debian's postgresql package")
    root = Path(tempfile.mkdtemp(prefix="optuna-pg-"))
    try:
        yield postgres_server.start(root)
    finally:
        postgres_server.stop(root)


def test_workers_share_a_study_on_postgresql_and_the_password_is_written_nowhere(tmp_path, postgres_url):
    name = f"pg_{os.getpid()}_{int(time.time())}"
    url = urllib.parse.urlsplit(postgres_url)
    assert url.password, "the test server is reached with a password"
    # As the README says: the password comes from the environment, so Hydra saves the
    # interpolation; the sweeper prints the URL masked.
    storage = postgres_url.replace(f":{url.password}@", ":${oc.env:OPTUNA_DB_PASSWORD}@")
    command = sweep_command(*GRID4, *TINY, f"hydra.sweeper.study_name={name}",
                            *sweep_args(tmp_path, storage=f"'{storage}'"))
    results = run_workers([command, command], {**env_with_data(), "OPTUNA_DB_PASSWORD": url.password})
    assert [r.returncode for r in results] == [0, 0], results[0].stderr[-2000:] + results[1].stderr[-2000:]
    ts = trials(postgres_url, name)
    assert_each_point_once(ts, 4)
    assert all(url.password not in r.stdout + r.stderr for r in results)
    assert all(url.password not in json.dumps([t.user_attrs, t.system_attrs], default=str) for t in ts)
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".ckpt"]
    assert {"train.log", "hydra.yaml", "overrides.yaml"} <= {p.name for p in files}
    assert not [p for p in files if url.password in p.read_text(errors="replace")]


def test_joblib_launcher_runs_batches_in_other_processes_that_still_reach_their_trial(tmp_path):
    # Jobs run in joblib's worker processes: they find their trial through the storage and
    # the pruner from its config, and report per-epoch accuracy there.
    result = run_module("src.train", "-m", "sweep=flat_mnist", *EAGER, "latent=choice(2,5)", "hidden=100",
                        "hydra/launcher=joblib", "hydra.sweeper.n_jobs=2",
                        "hydra/sweeper/pruner=threshold", "hydra.sweeper.pruner.lower=1.01",
                        "epochs=2", "dataset.limit=256", "tasks=[loss,clustering]", *sweep_args(tmp_path),
                        env=data_env())
    assert result.returncode == 0, result.stderr[-3000:]
    ts = trials(journal(tmp_path / "study.log"), "flat_mnist")
    assert [t.state for t in ts] == [TrialState.PRUNED] * 2
    assert sorted(Path(t.user_attrs["run_dir"]).name for t in ts) == ["trial_0", "trial_1"]


def test_the_submitit_launcher_runs_the_trainer_with_pruning_reported_from_its_jobs(tmp_path):
    """submitit's local executor: the code path of SLURM jobs (hydra/launcher=submitit_slurm)."""
    result = run_module("src.train", "-m", *GRID4, "hydra/launcher=submitit_local", "hydra.sweeper.n_jobs=2",
                        "hydra/sweeper/pruner=median", "epochs=2", "dataset.limit=256", "tasks=[loss,clustering]",
                        *sweep_args(tmp_path), env=data_env())
    assert result.returncode == 0, result.stderr[-3000:]
    study = optuna.load_study(study_name="table1_mnist", storage=journal(tmp_path / "study.log"))
    assert points(study.trials) == points(study.trials, (TrialState.COMPLETE,)) and len(points(study.trials)) == 4
    assert len(study.trials) == 4  # each point once
    for t in study.trials:
        assert list(t.intermediate_values) == [0, 1]  # the job reached its trial: one value per epoch
        assert t.user_attrs["test_acc"] == pytest.approx(
            json.loads((Path(t.user_attrs["run_dir"]) / "metrics.json").read_text())["clustering"]["test"]["acc"])
    assert study.user_attrs["grid_size"] == 4
