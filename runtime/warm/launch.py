"""The flow-run command of a warm pool: hand the run to the warm server, or start it cold.

Run as ``python -S launch.py [SOCKET]``: stdlib only, so it starts in milliseconds. The worker sees
this process as the flow run's process: its PID is the one Prefect records and signals. A SIGTERM
or SIGINT is passed on to the forked run, a SIGKILL is noticed by the server (the socket closes)
and the run is killed with it, and this process exits with the run's own exit status. Without a
SOCKET (warm start off) it starts the run cold at once.

With ``TRAINYARD_RUN_OUTPUT_DIR`` set, the run's stdout and stderr go to ``<dir>/<flow run id>.log``
instead of the worker's pipe: a worker that dies mid-run then takes nothing of the run with it (a
write to the dead worker's pipe would fail the run at its last line). Its logs reach Prefect anyway.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import sys
from typing import BinaryIO

STDIO = (0, 1, 2)
# After a SIGTERM: seconds until it is sent again, again, and then SIGKILL (8 s in all; Prefect's own
# worker would wait 30 s).
TERM_RESENDS = (2.0, 2.0, 4.0)
HEADER = struct.Struct("!I")  # length of the JSON request that follows


def send_request(sock: socket.socket, cwd: str, env: dict[str, str]) -> None:
    """The run's working directory and environment, with this process's stdin/stdout/stderr."""
    payload = json.dumps({"cwd": cwd, "env": env}).encode()
    socket.send_fds(sock, [HEADER.pack(len(payload))], list(STDIO))
    sock.sendall(payload)


def read_line(stream: BinaryIO) -> tuple[str, int] | None:
    """One ``<word> <int>`` line from the server, or None once it has closed the connection."""
    line = stream.readline()
    if not line:
        return None
    word, _, number = line.decode().partition(" ")
    return word, int(number)


def cold_start() -> None:
    """No warm server: become the command the process worker would have run."""
    os.execv(sys.executable, [sys.executable, "-m", "prefect.engine"])


def own_output(directory: str, flow_run_id: str) -> None:
    """Point stdout and stderr at the run's own log file (created 0600 in a directory made 0700)."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    name = "".join(c for c in flow_run_id if c.isalnum() or c == "-") or "unknown-run"
    fd = os.open(os.path.join(directory, f"{name}.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    for target in (1, 2):
        os.dup2(fd, target)
    os.close(fd)


def main(socket_path: str | None) -> int:
    if directory := os.environ.get("TRAINYARD_RUN_OUTPUT_DIR"):
        own_output(directory, os.environ.get("PREFECT__FLOW_RUN_ID", ""))
    if socket_path is None:
        cold_start()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(socket_path)
    except OSError:
        sock.close()
        cold_start()
    child: list[int] = []
    pending: list[int] = []
    resends = list(TERM_RESENDS)

    def forward(signum: int, _frame: object) -> None:
        if child:
            os.kill(child[0], signum)
        else:
            pending.append(signum)
        if signum == signal.SIGTERM and resends == list(TERM_RESENDS):
            signal.setitimer(signal.ITIMER_REAL, resends[0])

    def escalate(_signum: int, _frame: object) -> None:
        """Prefect turns SIGTERM into an exception raised wherever the run's main thread is; raised inside
        a ``__del__`` (a garbage-collected socket, seen in CI) it is swallowed and the run trains on. So
        the signal is sent again, and a run still alive after all of them is killed."""
        resends.pop(0)
        if child:
            os.kill(child[0], signal.SIGTERM if resends else signal.SIGKILL)
        if resends:
            signal.setitimer(signal.ITIMER_REAL, resends[0])

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)
    signal.signal(signal.SIGALRM, escalate)
    send_request(sock, os.getcwd(), dict(os.environ))
    stream = sock.makefile("rb")
    started = read_line(stream)
    if started is None or started[0] != "pid":
        sys.stderr.write("trainyard warm start: the warm server closed the connection before starting the run\n")
        return 1
    child.append(started[1])
    for signum in pending:
        os.kill(child[0], signum)
    ended = read_line(stream)
    if ended is None:
        sys.stderr.write("trainyard warm start: lost the warm server while the run was going\n")
        return 1
    code = ended[1]
    if code < 0:  # killed by a signal: end the same way, so the worker reads the same status
        if -code != signal.SIGKILL:  # SIGKILL has no handler to reset
            signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else None))
