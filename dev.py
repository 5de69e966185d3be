#!/usr/bin/env python3
"""Bootstrap for a fresh machine (Python 3.11 + pip only): creates/reuses .venv, then runs a command.

python3 dev.py up      # Prefect server (SQLite), workers, the API; deploys and trains a model
python3 dev.py test    # ruff + the whole test suite (unit + integration on a real Prefect server,
                       # the Prefect UI in Debian's chromium, and the multi-host tests on PostgreSQL,
                       # dockerd and a local S3 server; Debian's packages are installed as root if missing)
python3 dev.py install # only (re)create the virtual environment
python3 dev.py lock    # re-resolve pyproject.toml in a scratch venv and rewrite constraints.txt
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".trainyard-installed"
CONSTRAINTS = ROOT / "constraints.txt"
# The CPU wheel of this torch release is what the project is tested with; install it before the
# project so pip does not resolve torch on its own (which pulls a multi-GB CUDA build).
TORCH_SPEC = os.environ.get("TRAINYARD_TORCH_SPEC", "torch==2.13.0")
PIP = ("-m", "pip", "install", "--disable-pip-version-check", "-q")


def _run(*args: str | Path) -> None:
    subprocess.run([str(a) for a in args], cwd=ROOT, check=True)


def _install(python: Path, *, constrained: bool) -> None:
    """torch first, then the project with its dev extras; pinned by constraints.txt unless re-locking."""
    pins = ("-c", CONSTRAINTS) if constrained else ()
    _run(python, *PIP, *pins, TORCH_SPEC)
    _run(python, *PIP, *pins, "-e", f"{ROOT}[dev]")


def ensure_venv() -> Path:
    """Create .venv if needed and install the project when pyproject.toml or constraints.txt changed."""
    python = BIN / "python"
    if not python.exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    inputs = (ROOT / "pyproject.toml").read_bytes() + CONSTRAINTS.read_bytes() + TORCH_SPEC.encode()
    fingerprint = hashlib.sha256(inputs).hexdigest()
    if not STAMP.exists() or STAMP.read_text() != fingerprint:
        print(f"installing {TORCH_SPEC} and the project into {VENV} (a few minutes the first time)", flush=True)
        _install(python, constrained=True)
        STAMP.write_text(fingerprint)
    return python


# What the tests need from Debian beyond Python: the Prefect-UI tests drive chromium (Playwright cannot
# download a browser here); the multi-host tests start PostgreSQL, dockerd, and build the run image's
# base with debootstrap. Each: (package, a file it installs).
SYSTEM_PACKAGES = (
    ("chromium", "/usr/bin/chromium"),
    ("postgresql", "/usr/lib/postgresql"),
    ("docker.io", "/usr/sbin/dockerd"),
    ("debootstrap", "/usr/sbin/debootstrap"),
)


def ensure_system_packages() -> None:
    """As root, apt-get install what is missing; otherwise say how, and the tests that need it fail saying so."""
    missing = [package for package, marker in SYSTEM_PACKAGES if not Path(marker).exists()]
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print(f"missing for the tests: `apt-get install {' '.join(missing)}` (as root)", flush=True)
        return
    print(f"installing Debian's {', '.join(missing)} for the tests", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env, stdout=subprocess.DEVNULL)


def lock() -> int:
    """Resolve the newest releases pyproject.toml allows in a scratch venv; write them as constraints.txt."""
    with tempfile.TemporaryDirectory(prefix="trainyard-lock-") as scratch:
        venv.EnvBuilder(with_pip=True).create(scratch)
        python = Path(scratch) / "bin" / "python"
        _install(python, constrained=False)
        frozen = subprocess.run([python, "-m", "pip", "freeze", "--exclude-editable"], check=True,
                                capture_output=True, text=True).stdout.splitlines()  # fmt: skip
    header = [line for line in CONSTRAINTS.read_text().splitlines() if line.startswith("#")]
    pins = sorted((line for line in frozen if not line.lower().startswith(("torch==", "trainyard"))), key=str.lower)
    CONSTRAINTS.write_text("\n".join([*header, *pins]) + "\n")
    print(f"wrote {len(pins)} pins to {CONSTRAINTS}; run `python3 dev.py test` before committing it")
    return 0


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("help", [])
    if command in {"help", "-h", "--help"}:
        print(__doc__)
        return 0
    if command == "lock":
        return lock()
    python = ensure_venv()
    if command == "install":
        return 0
    if command == "up":
        # Become `trainyard up`: Ctrl-C, SIGINT and SIGTERM then reach the process that owns the
        # stack and stops it, with no parent in between to kill it half-way through its shutdown.
        trainyard = str(BIN / "trainyard")
        os.chdir(ROOT)
        os.execv(trainyard, [trainyard, "up", *rest])
    if command == "test":
        ensure_system_packages()
        lint = subprocess.call([str(BIN / "ruff"), "check", "."], cwd=ROOT)
        tests = subprocess.call([str(python), "-m", "pytest", *rest], cwd=ROOT)
        return lint or tests
    print(f"unknown command {command!r}\n{__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
