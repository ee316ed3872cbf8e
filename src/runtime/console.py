"""A quiet console: what a run's user needs there, library chatter in the run's train.log only.

Hydra sends every log record to the console and to <run dir>/train.log. On the console this
keeps the project's own records (the summary, its notices) and anything at ERROR or above;
library records below ERROR (Lightning's "GPU available" lines and tips, matplotlib's font
cache) and warnings raised inside installed packages (deprecations, Lightning's logging
interval) are written to train.log alone. Warnings raised by the project's code still show.
"""
import logging

from src.runtime.paths import ROOT

OWN_LOGGERS = ("src", "__main__", "hydra_plugins")


class LibraryChatter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            return True
        if record.name == "py.warnings":  # "<file>:<line>: <Category>: <message>"
            where = str(record.args[0] if record.args else record.msg).split(":", 1)[0]
            return where.startswith(str(ROOT)) and "site-packages" not in where
        return record.name.split(".")[0] in OWN_LOGGERS


def quiet_libraries() -> None:
    """Route warnings through logging, and keep library records off the console handlers."""
    logging.captureWarnings(True)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            if not any(isinstance(f, LibraryChatter) for f in handler.filters):
                handler.addFilter(LibraryChatter())
