"""runtime/sinks.py: the video file sink writes atomically."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

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
