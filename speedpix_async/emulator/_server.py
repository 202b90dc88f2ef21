"""Running the emulator on a real loopback socket (uvicorn in a background thread)."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn
from typing_extensions import Self

__all__ = ["AppServer", "bind_socket", "endpoint_for", "uvicorn_config"]

#: How long ``start()`` waits for uvicorn to accept connections.
STARTUP_TIMEOUT = 15.0


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening-ready socket; port 0 picks a free port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not the default 0: accepted sockets inherit it, and asyncio only turns
    # Nagle off (TCP_NODELAY) for sockets whose proto says TCP. With Nagle on, uvicorn's
    # separate header and body writes stall ~40 ms on the client's delayed ACK per response.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def uvicorn_config(app: Any, *, log_level: str = "warning", loop: str = "auto") -> uvicorn.Config:
    return uvicorn.Config(
        app,
        loop=loop,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        # The gateway layer writes its own Date header (clients read it to correct skew).
        date_header=False,
        server_header=False,
        # Longer than any client's idle keep-alive, so the server is never the one closing a
        # pooled connection just as a request goes out on it.
        timeout_keep_alive=30,
        backlog=4096,
    )


def endpoint_for(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


class AppServer:
    """An ASGI app served on ``host:port`` from a daemon thread. Use as a context manager."""

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self._host = host
        self._port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.endpoint = ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(endpoint={self.endpoint!r})"

    def start(self) -> str:
        """Start serving and return the endpoint URL once connections are accepted."""
        if self._thread is not None:
            return self.endpoint
        self._socket = bind_socket(self._host, self._port)
        self.endpoint = endpoint_for(self._socket)
        # Plain asyncio: this server shares the caller's process, and some uvicorn versions
        # install uvloop's event-loop policy process-wide when they use it.
        self._server = uvicorn.Server(uvicorn_config(self.app, loop="asyncio"))
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"speedpix-emulator {self.endpoint}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the emulator server thread exited during startup")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the emulator did not start within {STARTUP_TIMEOUT:g}s")
            time.sleep(0.005)
        return self.endpoint

    def stop(self) -> None:
        """Stop serving and wait for the thread. Safe to call twice."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = None
        self._thread = None
        self._socket = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
