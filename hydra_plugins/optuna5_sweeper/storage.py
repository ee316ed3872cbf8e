"""Opening a study's storage the way the sweeper does, and showing its URL without a password.

Public: apps and drivers built on the sweeper (reading studies back, copying them) open
the same strings the same way. Optuna is imported only when a storage is opened: Hydra
imports every public module of this package when it scans for plugins.
"""
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Optional

if TYPE_CHECKING:
    from optuna.storages import BaseStorage

# Set on a study once every grid point is enqueued: how many points its grid has.
GRID_SIZE_ATTR = "grid_size"


class StorageError(RuntimeError):
    """A storage that cannot be opened; the message says what is allowed."""


def masked(url: Optional[str]) -> str:
    if not url:
        return "in-memory"
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1] if "@" in url else url


def is_journal_file(url: Optional[str]) -> bool:
    return url is not None and "://" not in url


def open_storage(url: Optional[str]) -> "BaseStorage":
    """null: in memory; a plain path: Optuna's journal file; anything else: a database URL."""
    from optuna.storages import InMemoryStorage, JournalStorage, RDBStorage
    from optuna.storages.journal import JournalFileBackend

    if url is None:
        return InMemoryStorage()
    try:
        if is_journal_file(url):
            Path(url).parent.mkdir(parents=True, exist_ok=True)
            return JournalStorage(JournalFileBackend(url))
        kwargs: Dict[str, Any] = {}
        if url.startswith("sqlite:///"):
            Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
            kwargs = {"connect_args": {"timeout": 60}}
        for attempt in range(3):
            try:
                return RDBStorage(url, engine_kwargs=kwargs)
            except Exception as exc:  # workers starting together race to create the tables
                if "already exists" not in str(exc) or attempt == 2:
                    raise
                time.sleep(0.5)
    except Exception as exc:
        if isinstance(exc, ImportError):
            exc = ImportError(f"{exc} For postgresql://: pip install 'psycopg[binary]'.")
        raise StorageError(
            f"hydra.sweeper.storage: cannot open {masked(url)} ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}). Allowed: null (in memory), "
            "a file path (an Optuna journal file, e.g. outputs/study.log), "
            "sqlite:///path/to/file.db, or a server URL such as "
            "postgresql://user:password@host:5432/dbname with the server running and the "
            "database created.") from None
