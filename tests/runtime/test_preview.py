"""runtime/preview.py: composition, show modes, overlay, display detection, and a real window."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from b2v_edge.runtime import preview
from b2v_edge.runtime.preview import (
    PreviewWindow,
    compose,
    draw_overlay,
    frames_for_mode,
    gui_available,
    has_display,
    right_label,
    tile_grid,
)


def _imgs(n=7, h=20, w=30):
    return [np.full((h, w, 3), 10 * (i + 1), np.uint8) for i in range(n)]


def test_frames_for_mode_counts():
    imgs = _imgs()
    assert len(frames_for_mode(imgs, "middle")) == 1 and frames_for_mode(imgs, "middle")[0][0, 0, 0] == 40
    assert len(frames_for_mode(imgs, "sequence")) == 7
    grid = frames_for_mode(imgs, "grid")
    assert len(grid) == 1 and grid[0].shape == (60, 90, 3)  # 3x3 tiles for N=7
    with pytest.raises(ValueError, match="show mode"):
        frames_for_mode(imgs, "movie")


def test_tile_grid_layout():
    g = tile_grid(_imgs(4, 2, 2), cols=4)
    assert g.shape == (2, 8, 3) and g[0, 7, 0] == 40
    with pytest.raises(ValueError):
        tile_grid([])


def test_compose_side_by_side_and_overlay():
    blurred = np.full((600, 800, 3), 100, np.uint8)
    restored = np.full((300, 400, 3), 200, np.uint8)
    view = compose(blurred, restored, ["backend fp16", "12.0 FPS"], max_height=300)
    assert view.shape == (300, 400 + 4 + 400, 3)
    assert view[150, 200, 0] == 100 and view[150, 404 + 200, 0] == 200
    assert not np.array_equal(view[:40, :150], np.full((40, 150, 3), 100, np.uint8))  # overlay drawn
    img = np.zeros((50, 200, 3), np.uint8)
    assert draw_overlay(img, ["hello"]).max() == 255 and draw_overlay(img, []) is img
    assert right_label("sequence", 2, 7) == "slow motion 3/7" and "middle" in right_label("middle", 0, 1)


def test_has_display(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert has_display() is False
    monkeypatch.setenv("DISPLAY", ":0")
    assert has_display() is True
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.delenv("DISPLAY")
    assert has_display() is True


@pytest.mark.parametrize(
    "build, expected",
    [
        ("  GUI:                          GTK3\n", True),
        ("  GUI:                          NONE\n", False),
        ("Video I/O:\n", False),
    ],
)
def test_gui_available_reads_the_opencv_build(monkeypatch, build, expected):
    monkeypatch.setattr(preview.cv2, "getBuildInformation", lambda: build)
    gui_available.cache_clear()  # the answer is cached per process
    try:
        assert gui_available() is expected
    finally:
        gui_available.cache_clear()


def _xwd_pixels(display):
    """Screenshot of the X root window via ``xwd`` (XWD format, 24/32 bpp) as raw ``uint8`` rows."""
    raw = subprocess.run(
        ["xwd", "-root", "-silent", "-display", display], capture_output=True, timeout=20, check=True
    ).stdout
    head = np.frombuffer(raw[:100], ">u4")
    header_size, width, height, bpp, bpl, ncolors = head[0], head[4], head[5], head[11], head[12], head[19]
    start = int(header_size) + 12 * int(ncolors)
    if bpl < width * max(int(bpp), 8) // 8:
        pytest.skip(f"unexpected XWD layout ({width} px, {bpl} bytes per line, {bpp} bpp)")
    data = np.frombuffer(raw[start : start + int(bpl) * int(height)], np.uint8)
    return data.reshape(int(height), int(bpl))


@pytest.mark.skipif(not gui_available(), reason="this OpenCV has no GUI (opencv-python-headless)")
@pytest.mark.skipif(
    shutil.which("Xvfb") is None or shutil.which("xwd") is None,
    reason="Xvfb/xwd not installed (Debian: apt install xvfb x11-apps)",
)
def test_window_appears_under_xvfb(monkeypatch):
    import cv2

    display = ":97"
    xvfb = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", "800x600x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(f"/tmp/.X11-unix/X{display[1:]}") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert xvfb.poll() is None, "Xvfb did not start"
        monkeypatch.setenv("DISPLAY", display)
        before = _xwd_pixels(display)
        win = PreviewWindow("b2v-edge test", mode="sequence", playback_fps=10)
        blurred = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
        for _ in range(5):
            assert win.write(blurred, _imgs(3, 120, 160), ["overlay line"]) is True  # no quit key pressed
        shot = _xwd_pixels(display)
        while shot.std() <= 5 and time.monotonic() < deadline + 5:  # give the window time to paint
            cv2.waitKey(100)
            shot = _xwd_pixels(display)
        state = (cv2.getWindowProperty(win.title, cv2.WND_PROP_VISIBLE), cv2.getWindowImageRect(win.title))
        win.close()
        assert shot.std() > 5 and not np.array_equal(shot, before), f"blank screen; window {state}"
    finally:
        xvfb.terminate()
        xvfb.wait(10)


def test_window_without_gui_raises_runtime_error(monkeypatch):
    import cv2

    def boom(*a, **k):
        raise cv2.error("The function is not implemented")

    monkeypatch.setattr(preview.cv2, "namedWindow", boom)
    with pytest.raises(RuntimeError, match="cannot open a preview window"):
        PreviewWindow("x")
