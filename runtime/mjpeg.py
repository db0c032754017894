"""MJPEG preview over HTTP for SSH-only devices: ``--serve 127.0.0.1:8080``.

``GET /`` is a small page, ``GET /stream.mjpg`` a ``multipart/x-mixed-replace`` stream of the
side-by-side view, ``GET /frame.jpg`` the latest view as one JPEG. The server (``http.server`` in a
daemon thread) never blocks the pipeline: :meth:`MjpegServer.write` only swaps the latest encoded
views; each client thread sends at its own pace and, in sequence mode, cycles through the N views
at ``playback_fps`` (slow motion). At most ``max_clients`` streams at once.

Hardening (it may face a network with ``--serve-public``): every client socket has a timeout
(``client_timeout``), so a client that never sends its request, or stops reading its stream, is
dropped and frees its slot; at most ``max_connections`` connections are open at once (more are
closed on accept); a client that resets its connection is logged as one line at INFO level.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .preview import compose, right_label

__all__ = ["LOCAL_HOSTS", "MjpegServer", "parse_hostport"]

log = logging.getLogger("b2v_edge.runtime.mjpeg")

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
_PAGE = (
    "<!doctype html><html><head><title>b2v-edge preview</title></head>"
    "<body style='background:#111;color:#ddd;font-family:sans-serif'>"
    "<h3>b2v-edge: blurred input | restored</h3><img src='/stream.mjpg' style='max-width:100%'>"
    "</body></html>"
)


def parse_hostport(text: str, default_port: int = 8080) -> Tuple[str, int]:
    """``"127.0.0.1:8080"``, ``":8080"``, ``"8080"``, ``"[::1]:8080"`` → ``(host, port)``.

    Raises:
        ValueError: unparsable text or a port outside 0..65535.
    """
    text = text.strip()
    host, port_s = "127.0.0.1", str(default_port)
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_s = rest.lstrip(":") or port_s
    elif text.isdigit():
        port_s = text
    elif text.count(":") == 1:
        host, port_s = text.split(":")
        host = host or "127.0.0.1"
    elif ":" in text and not _is_ipv6(text):
        raise ValueError(f"--serve expects HOST:PORT (IPv6 in brackets: [::1]:8080), got {text!r}")
    elif text:
        host = text
    if not port_s.isdigit() or not 0 <= int(port_s) <= 65535:
        raise ValueError(f"--serve expects HOST:PORT (e.g. 127.0.0.1:8080), got {text!r}")
    return host, int(port_s)


def _is_ipv6(text: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(text).version == 6
    except ValueError:
        return False


class _State:
    """Latest encoded views, shared between the pipeline (writer) and client threads."""

    def __init__(self, interval: float, max_clients: int) -> None:
        self.cond = threading.Condition()
        self.jpegs: List[bytes] = []
        self.version = 0
        self.closed = False
        self.interval = interval
        self.clients = 0
        self.max_clients = max_clients

    def publish(self, jpegs: List[bytes]) -> None:
        with self.cond:
            self.jpegs, self.version = jpegs, self.version + 1
            self.cond.notify_all()

    def next_set(self, seen: int, timeout: float) -> Optional[Tuple[List[bytes], int]]:
        """The current views if new (or a sequence to keep cycling), else None after ``timeout``."""
        with self.cond:
            if self.version == seen and len(self.jpegs) <= 1 and not self.closed:
                self.cond.wait(timeout)
            if not self.jpegs or (self.version == seen and len(self.jpegs) <= 1):
                return None
            return self.jpegs, self.version


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        self.timeout = self.server.client_timeout  # StreamRequestHandler applies it to the socket
        super().setup()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass

    def _send(self, code: int, ctype: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        state = self.server.state
        path = self.path.split("?", 1)[0]
        if path in ("/", "/index.html"):
            self._send(200, "text/html; charset=utf-8", _PAGE.encode())
        elif path == "/frame.jpg":
            found = state.next_set(-1, timeout=2.0)
            if found is None:
                self._send(503, "text/plain", b"no frame yet\n")
            else:
                self._send(200, "image/jpeg", found[0][0])
        elif path == "/stream.mjpg":
            self._stream(state)
        else:
            self._send(404, "text/plain", b"not found\n")

    def _stream(self, state: _State) -> None:
        with state.cond:
            full = state.clients >= state.max_clients
            state.clients += 0 if full else 1
        if full:
            self._send(503, "text/plain", b"too many preview clients\n")
            return
        try:
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Connection", "close")
            self.end_headers()
            seen, index = -1, 0
            while not state.closed:
                found = state.next_set(seen, timeout=0.5)
                if found is None:
                    continue
                jpegs, version = found
                if version != seen:
                    seen, index = version, 0
                data = jpegs[index % len(jpegs)]
                index += 1
                head = f"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n"
                self.wfile.write(head.encode() + data + b"\r\n")
                self.wfile.flush()
                if len(jpegs) > 1:
                    time.sleep(state.interval)
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        finally:
            with state.cond:
                state.clients -= 1
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    state: _State
    client_timeout: float = 10.0
    max_connections: int = 64
    _open = 0
    _open_lock = threading.Lock()

    def process_request(self, request: socket.socket, client_address: object) -> None:
        with self._open_lock:
            full = self._open >= self.max_connections
            self._open += 0 if full else 1
        if full:
            log.info("preview: %s refused (%d connections open)", client_address, self.max_connections)
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: socket.socket, client_address: object) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._open_lock:
                self._open -= 1

    def handle_error(self, request: object, client_address: object) -> None:
        import sys

        exc = sys.exc_info()[1]
        log.info("preview client %s dropped: %s", client_address, exc or "error")


class MjpegServer:
    """Serve the preview; use :meth:`start`, then :meth:`write` per input frame, then :meth:`close`.

    Args:
        host: bind address (the CLI allows non-local hosts only with ``--serve-public``).
        port: TCP port (0 = any free port; see :attr:`url`).
        mode: show mode, for captions.
        playback_fps: rate at which sequence views are cycled for each client.
        quality: JPEG quality 1..100.
        max_clients: concurrent streams.
        client_timeout: seconds a client socket may stay silent (no request) or blocked (not
            reading its stream) before it is dropped.
        max_connections: open connections at once (streams, page and frame requests, idle ones).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8080,
        mode: str = "middle",
        playback_fps: float = 30.0,
        quality: int = 80,
        max_clients: int = 4,
        client_timeout: float = 10.0,
        max_connections: int = 64,
    ) -> None:
        self.host, self.port, self.mode, self.quality = host, port, mode, quality
        self.client_timeout, self.max_connections = float(client_timeout), int(max_connections)
        self.state = _State(1.0 / max(playback_fps, 1e-3), max_clients)
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self) -> "MjpegServer":
        """Bind and serve in a daemon thread.

        Raises:
            OSError: the address is in use or cannot be bound (message names it).
        """
        cls = _Server
        if ":" in self.host:
            cls = type("_Server6", (_Server,), {"address_family": socket.AF_INET6})
        try:
            server = cls((self.host, self.port), _Handler)
        except OSError as exc:
            raise OSError(f"cannot serve on {self.host}:{self.port} ({exc.strerror or exc})") from exc
        server.state = self.state
        server.client_timeout, server.max_connections = self.client_timeout, self.max_connections
        server._open_lock = threading.Lock()
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="b2v-mjpeg", daemon=True
        )
        self._thread.start()
        return self

    def encode(self, view: np.ndarray) -> bytes:
        ok, buf = cv2.imencode(".jpg", view, [cv2.IMWRITE_JPEG_QUALITY, int(self.quality)])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        return buf.tobytes()

    def write(self, blurred: np.ndarray, images: List[np.ndarray], overlay: Sequence[str] = ()) -> bool:
        """Encode and publish the views for one input frame (never blocks on clients)."""
        n = len(images)
        views = [compose(blurred, img, overlay, right_label(self.mode, i, n)) for i, img in enumerate(images)]
        self.state.publish([self.encode(v) for v in views])
        return True

    def close(self, ok: bool = True) -> None:
        """Stop serving and end client streams (idempotent)."""
        with self.state.cond:
            self.state.closed = True
            self.state.cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
