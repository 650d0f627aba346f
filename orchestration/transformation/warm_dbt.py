"""A dbt process started before the build needs it.

A `dbt` process spends about 3 s importing dbt-core and the DuckDB adapter before it does anything
(mashumaro generates serialisation code for hundreds of classes on import). `iwh run` starts a
process that does that import while the cohorts are ingested, on the other core, and then waits;
the build's `dbt build` runs in it instead of in a new process.

dagster-dbt runs dbt as a subprocess of the executable it is given, which is `iwh-dbt`
(`client_main`). It hands its arguments, environment, working directory and standard streams to
the waiting process over a Unix socket, forwards interrupts to it, and exits with dbt's exit code.
When no process is waiting (a run from the UI or a sensor, the second dbt command of a build) it
replaces itself with the venv's own dbt, so `iwh-dbt` behaves as `dbt` everywhere.

The waiting process serves one command: it closes its socket once a client is accepted, so a second
client falls back to a dbt of its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

SOCKET_ENV = "IWH_WARM_DBT_SOCKET"
# The venv's own dbt, so the pipeline works without an activated venv; `iwh-dbt` is installed
# beside it (pyproject.toml).
DBT_EXECUTABLE = Path(sys.executable).parent / "dbt"
CLIENT_EXECUTABLE = Path(sys.executable).parent / "iwh-dbt"
_STANDARD_STREAMS = (0, 1, 2)
_LENGTH = struct.Struct("!Q")
_CODE = struct.Struct("!i")


class WarmDbt:
    """The waiting process of one `iwh run`; `stop()` ends it if no command used it."""

    def __init__(self, process: subprocess.Popen, directory: Path):
        self.process, self.directory = process, directory

    @property
    def socket_path(self) -> Path:
        return self.directory / "dbt.sock"

    @classmethod
    def start(cls, environment: dict[str, str]) -> WarmDbt:
        # A directory of its own (mode 0700) keeps the socket private, and short enough for a Unix
        # socket path wherever IWH_HOME is.
        directory = Path(tempfile.mkdtemp(prefix="iwh-dbt-"))
        # Listening before the process starts, so a command sent at once waits for it instead of
        # finding no socket.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
            listener.bind(str(directory / "dbt.sock"))
            listener.listen(1)
            process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(listener.fileno()), str(directory / "dbt.sock")],
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=[listener.fileno()],
            )
        return cls(process, directory)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def serve(listener_fd: int, socket_path: str) -> None:
    """Import dbt, run the one command a client sends on the listening socket, report its exit code."""
    listener = socket.socket(fileno=listener_fd)

    import dbt.adapters.duckdb  # noqa: F401
    from dbt.cli.main import cli  # the import this process exists to do ahead of time

    connection, _ = listener.accept()
    listener.close()
    os.unlink(socket_path)
    connection.sendall(_LENGTH.pack(os.getpid()))
    header, fds, _, _ = socket.recv_fds(connection, _LENGTH.size, len(_STANDARD_STREAMS))
    request = json.loads(_receive_exactly(connection, _LENGTH.unpack(header)[0]))
    for fd, stream in zip(fds, _STANDARD_STREAMS):
        os.dup2(fd, stream)
        os.close(fd)
    # dagster-dbt reads dbt's structured log line by line as it comes.
    sys.stdout.reconfigure(line_buffering=True)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    try:
        cli.main(args=request["args"], prog_name="dbt")
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
    sys.stdout.flush()
    sys.stderr.flush()
    connection.sendall(_CODE.pack(code))
    # dbt may leave threads behind; the command is done and reported.
    os._exit(0)


def client_main() -> None:
    """`iwh-dbt`: run dbt in the waiting process when there is one, else be dbt."""
    args = sys.argv[1:]
    socket_path = os.environ.get(SOCKET_ENV)
    if socket_path:
        code = _run_in_waiting_process(socket_path, args)
        if code is not None:
            sys.exit(code)
    os.execv(DBT_EXECUTABLE, [str(DBT_EXECUTABLE), *args])


def _run_in_waiting_process(socket_path: str, args: list[str]) -> int | None:
    """dbt's exit code, or None when no process took the command (run dbt here instead)."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(socket_path)
        server_pid = _LENGTH.unpack(_receive_exactly(connection, _LENGTH.size))[0]
    except (OSError, EOFError):
        connection.close()
        return None

    def forward(received: int, _frame) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(server_pid, received)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, forward)
    environment = {key: value for key, value in os.environ.items() if key != SOCKET_ENV}
    payload = json.dumps({"args": args, "env": environment, "cwd": os.getcwd()}).encode()
    socket.send_fds(connection, [_LENGTH.pack(len(payload))], list(_STANDARD_STREAMS))
    connection.sendall(payload)
    try:
        return _CODE.unpack(_receive_exactly(connection, _CODE.size))[0]
    except (OSError, EOFError):
        print("iwh-dbt: the dbt process ended without reporting an exit code", file=sys.stderr)
        return 1


def _receive_exactly(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise EOFError("connection closed")
        data += chunk
    return data


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2])
