#!/usr/bin/env python3
"""Bootstrap for a fresh machine (Python 3.11 + pip only): creates/reuses .venv, then runs a command.

python3 dev.py up      # Prefect server (SQLite), workers, the API; deploys and trains a model
python3 dev.py test    # ruff + the whole test suite (unit + integration on a real Prefect server)
python3 dev.py install # only (re)create the virtual environment
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".trainyard-installed"
# The CPU wheel of this torch release is what the project is tested with; install it before the
# project so pip does not resolve torch on its own (which pulls a multi-GB CUDA build).
TORCH_SPEC = os.environ.get("TRAINYARD_TORCH_SPEC", "torch==2.13.0")


def _run(*args: str | Path) -> None:
    subprocess.run([str(a) for a in args], cwd=ROOT, check=True)


def ensure_venv() -> Path:
    """Create .venv if needed and install the project when pyproject.toml changed since last time."""
    python = BIN / "python"
    if not python.exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    fingerprint = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + TORCH_SPEC.encode()).hexdigest()
    if not STAMP.exists() or STAMP.read_text() != fingerprint:
        pip = (python, "-m", "pip", "install", "--disable-pip-version-check", "-q")
        print(f"installing {TORCH_SPEC} and the project into {VENV} (a few minutes the first time)", flush=True)
        _run(*pip, TORCH_SPEC)
        _run(*pip, "-e", f"{ROOT}[dev]")
        STAMP.write_text(fingerprint)
    return python


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("help", [])
    if command in {"help", "-h", "--help"}:
        print(__doc__)
        return 0
    python = ensure_venv()
    if command == "install":
        return 0
    if command == "up":
        return subprocess.call([str(BIN / "trainyard"), "up", *rest], cwd=ROOT)
    if command == "test":
        lint = subprocess.call([str(BIN / "ruff"), "check", "."], cwd=ROOT)
        tests = subprocess.call([str(python), "-m", "pytest", *rest], cwd=ROOT)
        return lint or tests
    print(f"unknown command {command!r}\n{__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
