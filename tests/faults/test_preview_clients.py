"""The MJPEG preview under stuck and resetting clients: the others keep receiving frames."""

from __future__ import annotations

import socket
import struct
import threading
import time

import numpy as np

from b2v_edge.runtime.mjpeg import MjpegServer


def _stuck(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
    return sock


def _reader(port: int, counts: list, i: int, stop: threading.Event) -> None:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
    tail = b""
    try:
        while not stop.is_set():
            chunk = sock.recv(65536)
            if not chunk:
                break
            data = tail + chunk
            counts[i] += data.count(b"--frame\r\n")
            tail = data[-16:]
    except OSError:
        pass
    finally:
        sock.close()


def test_twenty_clients_five_stuck_and_resets_the_rest_keep_up():
    server = MjpegServer("127.0.0.1", 0, max_clients=20, client_timeout=1.0).start()
    frame = np.random.default_rng(0).integers(0, 255, (240, 320, 3), np.uint8)
    stop, counts = threading.Event(), [0] * 15
    stuck = [_stuck(server.port) for _ in range(5)]
    readers = [threading.Thread(target=_reader, args=(server.port, counts, i, stop)) for i in range(15)]
    published = 0
    try:
        for t in readers:
            t.start()
        deadline = time.monotonic() + 4.0
        while time.monotonic() < deadline:
            server.write(frame, [frame])
            published += 1
            if published % 10 == 0:  # a client that resets its connection mid-stream
                rst = socket.create_connection(("127.0.0.1", server.port))
                rst.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                rst.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
                rst.close()
            time.sleep(1 / 30)
    finally:
        stop.set()
        for t in readers:
            t.join(10)
        for sock in stuck:
            sock.close()
        server.close()
    assert published > 30
    assert min(counts) >= published // 3, (published, counts)  # every live client kept receiving
