"""``prefect server start`` with trainyard's server-side patch (SQLite write transactions begin
``IMMEDIATE``: ``runtime.prefect_patches``, patch 4). Prefect's own CLI runs the server in this
process, so every argument is Prefect's: ``python -m runtime.prefect_server --host 127.0.0.1 --port 4200``.

One SQLite database, one server: a second server started on a database that a live one serves exits
at once, naming the first. Prefect's events (a run scheduled, a cancel asked for, a state changed)
travel in each server's memory, so two servers on one database each see only half of them: both
servers' workers claim the same runs (one claim aborted), a cancel made through one never reaches the
worker of the other, and an API fed by one server's events shows stale states.
"""

from __future__ import annotations

import sys
from pathlib import Path


def command(port: int, host: str = "127.0.0.1") -> list[str]:
    """The command line that starts a Prefect server this way, with this interpreter."""
    return [sys.executable, "-m", "runtime.prefect_server", "--host", host, "--port", str(port)]


def sqlite_database(url: str) -> Path | None:
    """The file of a ``sqlite+aiosqlite:///…`` URL; None for another database (or SQLite in memory)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).expanduser().resolve()


def _option(args: list[str], name: str) -> str | None:
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def main(argv: list[str] | None = None) -> int:
    """Hold the database, patch, then hand the command line to ``prefect server start``."""
    args = sys.argv[1:] if argv is None else argv
    from prefect.settings import get_current_settings

    from runtime.store_lock import FileLock, LockHeld, describe

    database = sqlite_database(get_current_settings().server.database.connection_url.get_secret_value())
    if database is not None:
        lock = FileLock(database.with_name(database.name + ".server-lock"))  # held until this process exits
        try:
            lock.acquire(prefect_port=_option(args, "--port") or "4200")
        except LockHeld as held:
            sys.stderr.write(f"runtime.prefect_server: the Prefect database {database} is already served by "
                             f"{describe(held.holder)}; one database, one server (each server's events are its "
                             "own). Point this server at its own PREFECT_HOME.\n")  # fmt: skip
            return 1
    from runtime import prefect_patches

    prefect_patches.install_server()
    from prefect.cli import app

    sys.argv = ["prefect", "server", "start", *args]
    result = app()
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
