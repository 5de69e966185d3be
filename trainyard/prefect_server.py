"""``prefect server start`` with trainyard's server-side patch (SQLite write transactions begin
``IMMEDIATE``: ``trainyard.prefect_patches``, patch 4). Prefect's own CLI runs the server in this
process, so every argument is Prefect's: ``python -m trainyard.prefect_server --host 127.0.0.1 --port 4200``."""

from __future__ import annotations

import sys


def command(port: int, host: str = "127.0.0.1") -> list[str]:
    """The command line that starts a Prefect server this way, with this interpreter."""
    return [sys.executable, "-m", "trainyard.prefect_server", "--host", host, "--port", str(port)]


def main(argv: list[str] | None = None) -> int:
    """Patch, then hand the command line to ``prefect server start``."""
    from trainyard import prefect_patches

    prefect_patches.install_server()
    from prefect.cli import app

    sys.argv = ["prefect", "server", "start", *(sys.argv[1:] if argv is None else argv)]
    result = app()
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
