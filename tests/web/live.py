"""A real clinic server for the browser and load tests: ``phantomlab serve`` in a subprocess.

:func:`live_server` starts ``python -m phantomlab serve --db URL --port P`` on 127.0.0.1 and
a free port (uvicorn, exactly as a clinic runs it), waits until ``/login`` answers, yields
the base URL and stops the server with SIGINT (uvicorn's graceful shutdown) when done.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

__all__ = ["free_port", "live_server"]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def live_server(db_url: str, log: Path, *, start_timeout_s: float = 120.0) -> Iterator[str]:
    """Serve the store ``db_url`` on loopback; yield ``http://127.0.0.1:PORT``.

    Parameters
    ----------
    db_url : str
        A migrated clinic store (``sqlite:///...``).
    log : Path
        File receiving the server's output (uvicorn's access log included).
    start_timeout_s : float
        How long to wait for the first answer (the machine may be loaded).
    """
    port = free_port()
    env = {**os.environ, "PHANTOMLAB_CLINIC_SECRET": "live-server-test-secret-0123456789"}
    env.pop("PHANTOMLAB_CLINIC_COOKIE_SECURE", None)  # plain http on loopback
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "phantomlab", "serve", "--db", db_url, "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + start_timeout_s
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"the server exited ({proc.returncode}): {log.read_text()}")
                try:
                    if httpx.get(f"{base}/login", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no answer in {start_timeout_s} s: {log.read_text()}")
                time.sleep(0.2)
            yield base
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
