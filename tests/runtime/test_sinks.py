"""runtime/sinks.py: the video file sink writes H.264 (or MJPG) atomically."""

from __future__ import annotations

import sys

import cv2
import numpy as np
import pytest

from b2v_edge.runtime import sinks
from b2v_edge.runtime.sinks import SinkError, VideoSink


def _img(v, h=32, w=48):
    return np.full((h, w, 3), v, np.uint8)


@pytest.mark.parametrize("name", ["out.mp4", "out.avi"])
def test_writes_all_frames_then_renames(tmp_path, name):
    sink = VideoSink(tmp_path / "sub" / name, fps=10)
    sink.write(_img(0), [_img(10), _img(20), _img(30, 16, 24)])  # odd size is resized
    assert not (tmp_path / "sub" / name).exists()  # only the temp file while writing
    sink.close(ok=True)
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == [name]
    cap = cv2.VideoCapture(str(tmp_path / "sub" / name))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 3 and sink.frames_written == 3
    cap.release()


def test_failed_run_leaves_nothing(tmp_path):
    sink = VideoSink(tmp_path / "out.mp4")
    sink.write(_img(0), [_img(1)])
    sink.close(ok=False)
    assert list(tmp_path.iterdir()) == []
    empty = VideoSink(tmp_path / "empty.mp4")
    empty.close(ok=True)  # nothing written: no empty file
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments(tmp_path):
    with pytest.raises(SinkError, match="must end with .mp4 or .avi"):
        VideoSink(tmp_path / "out.gif")
    with pytest.raises(SinkError, match="fps"):
        VideoSink(tmp_path / "out.mp4", fps=0)


# ---- H.264 that plays everywhere, checked with a real decoder (PyAV's FFmpeg) --------------------
def _probe(path):
    """(codec, width, height, pix_fmt, decoded frame count) as a player sees the file."""
    av = pytest.importorskip("av")
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        count = sum(1 for _ in container.decode(video=0))
        return ctx.name, ctx.width, ctx.height, ctx.pix_fmt, count


def _pattern(i, h=360, w=640):
    img = np.full((h, w, 3), 50, np.uint8)
    img[:, (i * 7) % (w - 20) :][:, :20] = (40, 200, 240)
    return img


def test_mp4_is_h264_that_a_decoder_plays(tmp_path):
    sink = VideoSink(tmp_path / "out.mp4", fps=25)
    for i in range(12):
        sink.write(_pattern(i), [_pattern(i)])
    sink.close(ok=True)
    assert sink.codec == "h264" and sink.size == (640, 360)
    assert _probe(tmp_path / "out.mp4") == ("h264", 640, 360, "yuv420p", 12)
    data = (tmp_path / "out.mp4").read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # index first: browsers start playing at once
    assert "h264, 640x360, 12 frames" in sink.describe()


def test_odd_sizes_are_edge_padded_for_h264(tmp_path, caplog):
    sink = VideoSink(tmp_path / "odd.mp4", fps=10)
    sink.write(_img(0), [_img(9, 33, 49), _img(9, 33, 49)])
    sink.close()
    assert _probe(tmp_path / "odd.mp4")[1:3] == (50, 34) and "even sizes" in caplog.text


def test_without_pyav_mp4_falls_back_to_mp4v_with_a_notice(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(sinks, "h264_available", lambda: (False, "PyAV is not installed (av)"))
    sink = VideoSink(tmp_path / "old.mp4", fps=10)
    sink.write(_img(0), [_img(1), _img(2)])
    sink.close()
    assert sink.codec == "mp4v" and "browsers do not play" in caplog.text and "pip install av" in caplog.text
    assert _probe(tmp_path / "old.mp4")[0] == "mpeg4"


def test_h264_available_names_what_is_missing(monkeypatch):
    assert sinks.h264_available() == (True, "")
    monkeypatch.setitem(sys.modules, "av", None)
    usable, reason = sinks.h264_available()
    assert not usable and "PyAV is not installed" in reason


def test_a_directory_or_unwritable_folder_is_refused_up_front(tmp_path):
    (tmp_path / "out.mp4").mkdir()
    with pytest.raises(SinkError, match="is a directory"):
        VideoSink(tmp_path / "out.mp4")
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        import os

        if os.access(locked, os.W_OK):  # root ignores permissions
            pytest.skip("running as root: permissions are not enforced")
        with pytest.raises(SinkError, match="not writable"):
            VideoSink(locked / "out.mp4")
    finally:
        locked.chmod(0o700)


def test_a_failed_rename_is_a_sink_error_and_leaves_no_partial_file(tmp_path, monkeypatch):
    sink = VideoSink(tmp_path / "out.avi")
    sink.write(None, [np.zeros((16, 16, 3), np.uint8)] * 3)

    def refuse(src, dst):
        raise IsADirectoryError(21, "Is a directory")

    monkeypatch.setattr(sinks.os, "replace", refuse)
    with pytest.raises(SinkError, match="the video was not written"):
        sink.close(True)
    assert not sink.tmp.exists()


def test_an_encoder_failure_is_a_sink_error_naming_the_size(tmp_path):
    pytest.importorskip("av")
    sink = VideoSink(tmp_path / "wide.mp4")
    with pytest.raises(SinkError, match="cannot encode wide.mp4 at 20000x16"):
        sink.write(None, [np.zeros((16, 20000, 3), np.uint8)])
    sink.close(False)
    assert not (tmp_path / "wide.mp4").exists() and not sink.tmp.exists()
