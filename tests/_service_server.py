"""A real uvicorn server on 127.0.0.1 for the service tests, run in a thread of the test process.

The socket is bound before the server starts (port 0: the kernel picks a free port, no race), so
tests know the address at once. ``start`` waits for ``/readyz`` (bounded); ``stop`` asks uvicorn
to exit, which closes the service and its pool, and joins the thread (bounded). Use it as a
context manager so the server always stops.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import httpx
import uvicorn


class LiveServer:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, log_level="warning", lifespan="on", access_log=False, timeout_graceful_shutdown=10
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    @property
    def service(self) -> Any:
        return self.app.state.fastshare

    def start(self, timeout: float = 120.0) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.url, timeout=5.0) as client:
            while True:
                assert self.thread.is_alive(), "the server thread died while starting"
                try:
                    if client.get("/readyz").status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the server did not become ready"
                assert self.service.state != "failed", self.service.failure
                time.sleep(0.05)

    def stop(self, timeout: float = 60.0) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout)
        self.sock.close()
        assert not self.thread.is_alive(), "the server did not stop in time"

    def __enter__(self) -> LiveServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
