"""Sweeps that survive killed processes: the heartbeat marks a dead worker's trial FAIL and
its grid point is retried; nothing finished is lost or run twice."""
import os
import signal
import subprocess

import pytest
from optuna.trial import TrialState

from tests.entry_points.test_sweeps import (
    GRID4,
    env_with_data,
    journal,
    points,
    sweep_args,
    sweep_command,
    trials,
)
from tests.helpers.processes import ROOT, wait_for

pytestmark = pytest.mark.slow  # sweeps and several training processes: minutes

# Trials slow enough to kill one mid-way (about 2 s each on a 2-core CPU); a heartbeat
# fast enough for a test.
ARGS = [*GRID4, "epochs=15", "dataset.limit=256", "tasks=[loss,clustering]",
        "hydra.sweeper.heartbeat_interval=1", "hydra.sweeper.grace_period=4"]


def study_trials(storage):
    try:
        return trials(storage, "table1_mnist")
    except KeyError:  # not created yet
        return []


def run_dirs(tmp_path) -> dict:
    return {p.name: (p / "metrics.json").stat().st_mtime_ns
            for p in (tmp_path / "runs").iterdir() if (p / "metrics.json").exists()}


def assert_each_point_complete_once(ts) -> None:
    complete = points(ts)
    assert len(complete) == 4 and set(complete.values()) == {1}, complete


def test_sigkilled_sweep_restarted_retries_the_killed_trial(tmp_path):
    env, storage = env_with_data(), journal(tmp_path / "study.log")
    command = sweep_command(*ARGS, *sweep_args(tmp_path))
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_for(lambda: sum(points(study_trials(storage)).values()) >= 1
                    and any(t.state == TrialState.RUNNING for t in study_trials(storage)))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed = [t for t in study_trials(storage) if t.state == TrialState.RUNNING]
    assert len(killed) == 1
    before = run_dirs(tmp_path)

    again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    ts = trials(storage, "table1_mnist")
    assert_each_point_complete_once(ts)
    retried = next(t for t in ts if t.number == killed[0].number)
    assert retried.state == TrialState.FAIL and retried.user_attrs["fail_reason"].startswith("stale")
    assert f"trial {killed[0].number} went stale" in again.stdout
    after = run_dirs(tmp_path)
    assert all(after[name] == mtime for name, mtime in before.items())  # finished runs untouched


def test_two_workers_one_killed_the_other_finishes_and_retries_its_trial(tmp_path):
    env, storage = env_with_data(), journal(tmp_path / "study.log")
    command = sweep_command(*ARGS, *sweep_args(tmp_path))
    victim, survivor = (subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL) for _ in range(2))

    def victim_running():
        return [t for t in study_trials(storage) if t.state == TrialState.RUNNING
                and t.user_attrs.get("worker", "").endswith(f":{victim.pid}")]

    assert wait_for(lambda: bool(victim_running()))
    killed = victim_running()[0]
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert survivor.wait(timeout=600) == 0
    ts = trials(storage, "table1_mnist")
    assert_each_point_complete_once(ts)
    assert next(t for t in ts if t.number == killed.number).state == TrialState.FAIL


def sigterm_to_this_sweep(config, trial):
    """A custom_search_space hook: it runs right after the sweep has claimed `trial`."""
    os.kill(os.getpid(), signal.SIGTERM)


def test_a_signal_while_a_trial_is_claimed_leaves_it_recorded_not_running(tmp_path):
    # From its claim on, a trial is RUNNING in the storage; a signal that lands before the
    # code that records interrupted trials must still reach that code.
    args = [*GRID4, "epochs=1", "dataset.limit=256", "tasks=[loss,clustering]", *sweep_args(tmp_path),
            "hydra.sweeper.custom_search_space=tests.faults.test_sweep_faults.sigterm_to_this_sweep"]
    result = subprocess.run(sweep_command(*args), cwd=ROOT, env=env_with_data(), capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 130, result.stderr[-3000:]
    ts = trials(journal(tmp_path / "study.log"), "table1_mnist")
    claimed = [t for t in ts if t.state != TrialState.WAITING]
    assert [t.state for t in claimed] == [TrialState.FAIL]
    assert claimed[0].user_attrs["fail_reason"].startswith("interrupted")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # no job started
