"""Heartbeats of running trials, renewed from a background thread (see _claims.Claims._fail_stale)."""
import sys
import threading
import time
from typing import List

import optuna
from optuna.storages import BaseStorage

HEARTBEAT_ATTR = "heartbeat"  # trial system attribute: when its worker last said it was alive


class Heartbeat:
    """Renews the heartbeat of running trials from a background thread until stopped."""

    def __init__(self, storage: BaseStorage, trial_ids: List[int], interval: float):
        self.storage, self.trial_ids, self.interval = storage, trial_ids, interval
        self.stopped = threading.Event()
        self.beat()
        self.thread = threading.Thread(target=self._run, name="optuna5-sweeper-heartbeat", daemon=True)
        self.thread.start()

    def beat(self) -> None:
        for trial_id in self.trial_ids:
            try:
                self.storage.set_trial_system_attr(trial_id, HEARTBEAT_ATTR, time.time())
            except optuna.exceptions.UpdateFinishedTrialError:
                pass  # finished meanwhile

    def _run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                self.beat()
            except Exception as exc:  # a storage hiccup must not kill the trial
                print(f"heartbeat not recorded: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()
