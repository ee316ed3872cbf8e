"""Errors that reach the user as one readable paragraph instead of a traceback."""
import sys
from typing import NoReturn


class UserError(Exception):
    """Bad input from the user (config, data files, paths). Printed as-is, exit code 2."""


class ConfigError(UserError):
    pass


class DataError(UserError):
    pass


class NonFiniteLossError(RuntimeError):
    """Training diverged; carries the epoch and step of the first non-finite loss."""


def exit_with(exc: Exception) -> NoReturn:
    """Print the error as one paragraph (after a line break, past any progress bar) and exit:
    2 for bad input, 1 for a run that failed."""
    print(f"\nerror: {exc}", file=sys.stderr, flush=True)
    sys.exit(2 if isinstance(exc, UserError) else 1)
