"""A throwaway PostgreSQL server on 127.0.0.1, for the shared-study test.

    python3 tests/helpers/postgres_server.py start DIR   # prints postgresql://optuna:...@127.0.0.1:PORT/optuna
    python3 tests/helpers/postgres_server.py stop DIR

Uses the server binaries of Debian's postgresql package (or initdb/pg_ctl on PATH). As root
it runs the server as the `postgres` user, since PostgreSQL refuses to run as root.
Standard library only, so that .ci/run can call it before the project is installed.
"""
import glob
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

PASSWORD = "optuna-test"


def bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).resolve().parent if pg_ctl else None


def _as_server_user() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(root: Path) -> str:
    bins = bin_dir()
    if bins is None:
        raise FileNotFoundError("no PostgreSQL server binaries (pg_ctl, initdb): "
                                "install Debian's postgresql package")
    root.mkdir(parents=True, exist_ok=True)
    (root / "pw").write_text(PASSWORD + "\n")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(root / "pw", "postgres")
    user = _as_server_user()

    def run(*cmd, **kw):
        done = subprocess.run([*user, *map(str, cmd)], capture_output=True, text=True, **kw)
        if done.returncode != 0:
            raise RuntimeError(f"{Path(str(cmd[0])).name} failed: {done.stderr.strip()}")
    data = root / "data"
    run(bins / "initdb", "-D", data, "-U", "optuna", f"--pwfile={root / 'pw'}",
        "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8")
    port = _free_port()
    run(bins / "pg_ctl", "-D", data, "-l", root / "server.log", "-w", "-o",
        f"-p {port} -h 127.0.0.1 -k {root}", "start")
    run(bins / "createdb", "-h", "127.0.0.1", "-p", port, "-U", "optuna", "optuna",
        env={**os.environ, "PGPASSWORD": PASSWORD})
    (root / "port").write_text(str(port))
    return f"postgresql://optuna:{PASSWORD}@127.0.0.1:{port}/optuna"


def stop(root: Path) -> None:
    bins = bin_dir()
    if bins is not None and (root / "data").exists():
        subprocess.run([*_as_server_user(), str(bins / "pg_ctl"), "-D", str(root / "data"),
                        "-m", "fast", "-w", "stop"], capture_output=True)
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    action, directory = sys.argv[1], Path(sys.argv[2])
    if action == "start":
        print(start(directory))
    else:
        stop(directory)
