"""Errors that reach the user as one readable paragraph instead of a traceback."""


class UserError(Exception):
    """Bad input from the user (config, data files, paths). Printed as-is, exit code 2."""


class ConfigError(UserError):
    pass


class DataError(UserError):
    pass


class NonFiniteLossError(RuntimeError):
    """Training diverged; carries the epoch and step of the first non-finite loss."""
