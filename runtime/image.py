"""The run image for Docker and Kubernetes work pools, built with no registry pull.

``trainyard image build``: a Debian root filesystem made by debootstrap from Debian's packages and
``docker import``-ed as the base (once per machine), then ``docker/Dockerfile`` on top with pip from
PyPI. Docker's layer cache keeps every layer but the code's, so a code change rebuilds in seconds.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import time
import tomllib
from pathlib import Path

from trainyard.settings import PROJECT_ROOT

# The tag names the package set: a machine holding an older base builds this one afresh.
BASE_TAG = "trainyard-base:bookworm-gomp"
IMAGE_TAG = "trainyard:latest"
DEBIAN_SUITE = "bookworm"  # its python3 is 3.11, the release the project and the torch wheel are built for
DEBIAN_MIRROR = "http://deb.debian.org/debian"
# libgomp1: some families' libraries link the system's OpenMP runtime (others bring their own).
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates", "libgomp1")
TORCH_WHEEL_DIRS = (Path("/opt/wheels"),)
CODE = ("trainyard", "tasks", "flows", "deployments", "runtime", "data", "datasets")
logger = logging.getLogger(__name__)


class ImageError(RuntimeError):
    """The image could not be built; the message says which step and why."""


def _run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        output = (result.stderr or result.stdout)[-3000:]
        raise ImageError(f"{' '.join(args[:3])} failed ({result.returncode}):\n{output}")
    return result


def docker_ready() -> bool:
    docker = shutil.which("docker")
    return docker is not None and subprocess.run([docker, "info"], capture_output=True).returncode == 0


def ensure_dockerd(log_file: Path, timeout: float = 60) -> None:
    """A Docker engine to talk to: the running one, or dockerd started here (as root) with no bridge
    and no iptables rules, so containers can only use the host's network (``--network host``)."""
    if docker_ready():
        return
    dockerd = shutil.which("dockerd")
    if dockerd is None or os.geteuid() != 0:
        raise ImageError("no Docker engine answers and dockerd cannot be started here (install docker.io, as root)")
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        subprocess.Popen([dockerd, "--bridge=none", "--iptables=false", "--ip6tables=false"],
                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + timeout
    while not docker_ready():
        if time.monotonic() > deadline:
            raise ImageError(f"dockerd did not answer within {timeout:.0f}s; see {log_file}")
        time.sleep(0.5)


def image_exists(tag: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0


def build_base(tag: str = BASE_TAG) -> float:
    """Import a debootstrapped Debian as ``tag`` unless it is there already; the seconds it took."""
    if image_exists(tag):
        return 0.0
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        raise ImageError("debootstrap is missing (apt-get install debootstrap, as root)")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="trainyard-rootfs-") as rootfs:
        logger.info("debootstrap %s into %s", DEBIAN_SUITE, rootfs)
        _run([debootstrap, "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}", DEBIAN_SUITE, rootfs,
              DEBIAN_MIRROR])  # fmt: skip
        shutil.rmtree(Path(rootfs, "var/cache/apt/archives"), ignore_errors=True)
        shutil.rmtree(Path(rootfs, "var/lib/apt/lists"), ignore_errors=True)
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        _run(["docker", "import", "-", tag], stdin=tar.stdout)
        tar.wait()
    return time.monotonic() - started


def _requirements() -> str:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    return "\n".join(project["dependencies"]) + "\n"


def _torch_wheel() -> Path:
    for folder in TORCH_WHEEL_DIRS:
        wheels = sorted(folder.glob("torch-2.13.0+cpu-cp311-*.whl"))
        if wheels:
            return wheels[-1]
    raise ImageError("the CPU torch wheel (torch-2.13.0+cpu, cp311) is not on this machine; pass TORCH as a "
                     "build argument instead (docker/Dockerfile says how)")  # fmt: skip


def _context(into: Path) -> None:
    """The build context: the Dockerfile's inputs only (not the venv, not artifacts)."""
    build = into / "build"
    (build / "wheels").mkdir(parents=True)
    shutil.copy2(_torch_wheel(), build / "wheels")
    ca_bundle = Path(os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt")
    shutil.copy2(ca_bundle, build / "ca-bundle.crt")
    (build / "requirements.txt").write_text(_requirements())
    for name in ("constraints.txt", "prefect.yaml", "pyproject.toml"):
        shutil.copy2(PROJECT_ROOT / name, into / name)
    for name in CODE:
        shutil.copytree(PROJECT_ROOT / name, into / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def build_image(tag: str = IMAGE_TAG, base: str = BASE_TAG, log_file: Path | None = None) -> float:
    """``docker build`` of docker/Dockerfile as ``tag`` (the base first if missing); the seconds it took."""
    from trainyard.lineage import code_version

    build_base(base)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="trainyard-image-") as context:
        _context(Path(context))
        result = subprocess.run(
            ["docker", "build", "--network", "host", "--build-arg", f"BASE={base}", "--build-arg",
             f"CODE_VERSION={code_version()}", "-t", tag, "-f", str(PROJECT_ROOT / "docker" / "Dockerfile"), context],
            capture_output=True, text=True,
        )  # fmt: skip
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        log_file.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise ImageError(f"docker build failed:\n{(result.stdout + result.stderr)[-3000:]}")
    return time.monotonic() - started
