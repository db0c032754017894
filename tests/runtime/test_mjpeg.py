"""runtime/mjpeg.py: the MJPEG preview serves JPEG frames to an HTTP client on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from b2v_edge.runtime.engines import Engine, EngineSpec
from b2v_edge.runtime.mjpeg import MjpegServer, parse_hostport
from b2v_edge.runtime.options import RunOptions
from b2v_edge.runtime.pipeline import Pipeline

SOI, EOI = b"\xff\xd8", b"\xff\xd9"


def _get(url, timeout=5.0):
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.status, resp.headers.get("Content-Type"), resp.read()


def _read_parts(url, parts=2, timeout=5.0):
    """Read ``parts`` JPEGs from a multipart stream (bounded by ``timeout``)."""
    resp = urllib.request.urlopen(url, timeout=timeout)
    assert resp.headers.get("Content-Type").startswith("multipart/x-mixed-replace")
    buf, deadline = b"", time.monotonic() + timeout
    while buf.count(b"Content-Type: image/jpeg") < parts + 1 and time.monotonic() < deadline:
        chunk = resp.read1(65536) if hasattr(resp, "read1") else resp.read(4096)
        if not chunk:
            break
        buf += chunk
    resp.close()
    return buf


def _views(n):
    frame = np.full((48, 64, 3), 90, np.uint8)
    return frame, [np.full((48, 64, 3), 30 * (i + 1), np.uint8) for i in range(n)]


def test_parse_hostport():
    assert parse_hostport("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_hostport(":81") == ("127.0.0.1", 81)
    assert parse_hostport("localhost") == ("localhost", 8080)
    with pytest.raises(ValueError):
        parse_hostport("host:99999")


def test_server_serves_page_frame_and_stream():
    server = MjpegServer("127.0.0.1", 0, mode="sequence", playback_fps=50.0, max_clients=1).start()
    try:
        assert server.url.startswith("http://127.0.0.1:") and server.port > 0
        with pytest.raises(urllib.error.HTTPError) as info:
            _get(server.url + "frame.jpg", timeout=5)
        assert info.value.code == 503  # nothing published yet
        server.write(*_views(3), overlay=["test overlay"])
        status, ctype, body = _get(server.url)
        assert status == 200 and "text/html" in ctype and b"/stream.mjpg" in body
        status, ctype, jpeg = _get(server.url + "frame.jpg")
        assert ctype == "image/jpeg" and jpeg.startswith(SOI) and jpeg.endswith(EOI)
        stream = _read_parts(server.url + "stream.mjpg", parts=3)
        assert stream.count(b"--frame") >= 3 and SOI in stream  # sequence views keep cycling
        with pytest.raises(urllib.error.HTTPError) as info:
            _get(server.url + "nope")
        assert info.value.code == 404
    finally:
        server.close()
    with pytest.raises(OSError):
        _get(server.url, timeout=1)


def test_client_limit_is_bounded():
    server = MjpegServer("127.0.0.1", 0, max_clients=1).start()
    try:
        server.write(*_views(1))
        first = urllib.request.urlopen(server.url + "stream.mjpg", timeout=5)
        first.read(10)
        with pytest.raises(urllib.error.HTTPError) as info:
            _get(server.url + "stream.mjpg")
        assert info.value.code == 503
        first.close()
    finally:
        server.close()


def test_port_in_use_is_clear():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        with pytest.raises(OSError, match=f"cannot serve on 127.0.0.1:{port}"):
            MjpegServer("127.0.0.1", port).start()


class _Echo(Engine):
    def __init__(self):
        super().__init__(
            EngineSpec(
                "blurred", (1, 3, 16, 16), "frames", (1, 2, 3, 16, 16), "fp32", 2, "stand-in", "none", Path("e.onnx")
            )
        )

    def _infer_impl(self, x):
        time.sleep(0.005)
        return np.repeat(x[:, None], 2, axis=1)


def _endless():
    i = 0
    while True:
        time.sleep(0.005)
        i += 1
        yield np.full((24, 24, 3), i % 256, np.uint8), i / 30


def test_pipeline_serves_mjpeg_on_localhost(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    opts = RunOptions(model=tmp_path, headless=True, serve=f"127.0.0.1:{port}")
    served = threading.Event()  # two frames went through every output: one is being served
    pipe = Pipeline(opts, engine=_Echo(), source=_endless(), on_status=lambda st: st.frames >= 2 and served.set())
    result = {}
    worker = threading.Thread(target=lambda: result.update(summary=pipe.run()))
    worker.start()
    try:
        assert served.wait(60), "the pipeline never processed two frames"
        assert _get(f"http://127.0.0.1:{port}/frame.jpg", timeout=30)[2].startswith(SOI)
        assert b"--frame" in _read_parts(f"http://127.0.0.1:{port}/stream.mjpg", parts=2, timeout=30)
    finally:
        pipe.stop("test done")
        worker.join(30)
    summary = result["summary"]
    assert summary.serve_url == f"http://127.0.0.1:{port}/" and summary.stop_reason == "test done"
    assert summary.frames_processed > 0


def _wait(predicate, seconds=15.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _stuck_stream(port):
    """A client that asks for the stream and then never reads (tiny receive buffer)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
    return sock


def _status_of_stream(url):
    try:
        resp = urllib.request.urlopen(url + "stream.mjpg", timeout=5)
    except urllib.error.HTTPError as exc:
        return exc.code
    resp.close()
    return resp.status


def test_stuck_stream_clients_are_dropped_and_free_their_slots():
    server = MjpegServer("127.0.0.1", 0, max_clients=2, client_timeout=0.5).start()
    stop = threading.Event()
    big = np.random.default_rng(0).integers(0, 255, (480, 640, 3), np.uint8)  # ~1 MB/s of JPEGs per client

    def pump():
        while not stop.is_set():
            server.write(big, [big])
            time.sleep(0.01)

    pumper = threading.Thread(target=pump, daemon=True)
    pumper.start()
    stuck = [_stuck_stream(server.port) for _ in range(2)]
    try:
        assert _wait(lambda: server.state.clients == 2)
        assert _wait(lambda: server.state.clients == 0), "stuck clients kept their slots"
        assert _status_of_stream(server.url) == 200
    finally:
        stop.set()
        pumper.join()
        for sock in stuck:
            sock.close()
        server.close()


def test_idle_connections_time_out_and_are_capped():
    server = MjpegServer("127.0.0.1", 0, client_timeout=0.3, max_connections=2).start()
    try:
        idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(2)]
        assert _wait(lambda: server._server._open == 2)
        extra = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        assert extra.recv(16) == b""  # over the cap: closed on accept
        extra.close()
        for sock in idle:
            sock.settimeout(5)
            assert sock.recv(16) == b""  # silent for longer than client_timeout: dropped
            sock.close()
        assert _wait(lambda: server._server._open == 0)
        assert _get(server.url)[0] == 200
    finally:
        server.close()


def test_client_resets_are_one_log_line_not_a_traceback(capfd, caplog):
    import logging
    import struct

    server = MjpegServer("127.0.0.1", 0, client_timeout=2.0).start()
    server.write(*_views(1))
    try:
        with caplog.at_level(logging.INFO, logger="b2v_edge.runtime.mjpeg"):
            for _ in range(5):
                sock = socket.create_connection(("127.0.0.1", server.port))
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.sendall(b"GET /frame.jpg HTTP/1.1\r\nHost: x\r\n\r\n")
                sock.close()  # RST instead of FIN
            assert _wait(lambda: server._server._open == 0)
            assert _get(server.url)[0] == 200
    finally:
        server.close()
    assert "Traceback" not in capfd.readouterr().err


def test_parse_hostport_refuses_a_colon_soup():
    assert parse_hostport("::1") == ("::1", 8080)
    with pytest.raises(ValueError, match="'a:b:c'"):
        parse_hostport("a:b:c")
