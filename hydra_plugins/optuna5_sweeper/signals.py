"""SIGINT and SIGTERM as KeyboardInterrupt, so that whatever runs trials records them before it exits.

Public: a driver that runs sweeps (src.experiments) stops them the same way the sweeper stops.
"""
import contextlib
import signal
from typing import Optional


def ignore_signals() -> None:
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    except ValueError:  # not the main thread
        pass


class signals_as_interrupt:
    """SIGINT and SIGTERM raise KeyboardInterrupt, so that running trials are recorded before exit.

    The signal is also remembered: a KeyboardInterrupt raised while Python runs a finalizer
    (__del__, e.g. during garbage collection in a job) is swallowed, and the loop checks
    `received` between trials so that the sweep still stops."""
    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __enter__(self):
        self.received: Optional[int] = None
        self.deferring = False
        self.previous = {}
        for signum in self.SIGNALS:
            try:
                self.previous[signum] = signal.signal(signum, self._handler)
            except ValueError:  # not the main thread
                pass
        return self

    def _handler(self, signum, frame):
        self.received = signum
        if not self.deferring:
            raise KeyboardInterrupt(f"signal {signum}")

    @contextlib.contextmanager
    def deferred(self):
        """Inside, a signal is only remembered; `check()` raises it afterwards."""
        self.deferring = True
        try:
            yield
        finally:
            self.deferring = False

    def check(self) -> None:
        if self.received is not None:
            raise KeyboardInterrupt(f"signal {self.received}")

    def __exit__(self, exc_type, exc, tb):
        for signum, previous in self.previous.items():
            signal.signal(signum, previous)
        if self.received is not None and exc_type is SystemExit:
            # Lightning turns a KeyboardInterrupt inside fit() into sys.exit(1): still an interrupt
            raise KeyboardInterrupt(f"signal {self.received}") from exc
        return False
