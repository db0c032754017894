"""runtime/sources.py: URI parsing, video/folder/image/synthetic sources, errors, reconnects."""

from __future__ import annotations

import sys
import time
import types

import cv2
import numpy as np
import pytest

from b2v_edge.runtime import readers, sources
from b2v_edge.runtime.sources import (
    Source,
    SourceError,
    SourceSpec,
    csi_pipeline,
    has_gstreamer,
    open_source,
    parse_source,
    rtsp_pipeline,
)


# ---- parsing ------------------------------------------------------------------------------
def test_parse_kinds(tmp_path, video):
    (tmp_path / "imgs").mkdir()
    cv2.imwrite(str(tmp_path / "one.png"), np.zeros((4, 4, 3), np.uint8))
    cases = {
        "0": ("camera", 0),
        "12": ("camera", 12),
        "synthetic": ("synthetic", "synthetic"),
        "csi://1": ("csi", 1),
        "rtsp://cam.local:8554/live": ("stream", "rtsp://cam.local:8554/live"),
        "http://x/y.mjpg": ("stream", "http://x/y.mjpg"),
        str(video): ("file", str(video)),
        str(tmp_path / "imgs"): ("folder", str(tmp_path / "imgs")),
        str(tmp_path / "one.png"): ("image", str(tmp_path / "one.png")),
        f"file://{video}": ("file", str(video)),
    }
    for uri, (kind, target) in cases.items():
        spec = parse_source(uri)
        assert (spec.kind, spec.target) == (kind, target), uri
    assert parse_source(0).live and parse_source("csi://0").live and not parse_source(str(video)).live
    assert parse_source("csi://0?width=1920&fps=60").options == {"width": "1920", "fps": "60"}


@pytest.mark.parametrize(
    "uri, match",
    [
        ("", "empty"),
        ("ftp://x/y", "unknown source scheme ftp://"),
        ("csi://front", "csi://N"),
        ("/dev/video99", "camera /dev/video99 does not exist"),
        ("no/such/clip.mp4", "source not found"),
    ],
)
def test_parse_errors(uri, match):
    with pytest.raises(SourceError, match=match):
        parse_source(uri)


def test_pipelines_are_low_latency():
    pipe = csi_pipeline(1, 1920, 1080, 60, flip=2)
    assert "nvarguscamerasrc sensor-id=1" in pipe and "width=(int)1920" in pipe and "flip-method=2" in pipe
    assert pipe.endswith("appsink drop=true max-buffers=1 sync=false")
    rtsp = rtsp_pipeline("rtsp://a/b")
    assert "latency=0" in rtsp and "drop=true max-buffers=1" in rtsp


@pytest.mark.parametrize(
    "build, expected",
    [
        ("    GStreamer:                   YES (1.20.3)\n", True),
        ("    GStreamer:                   NO\n", False),
        ("", False),
    ],
)
def test_has_gstreamer_reads_the_opencv_build(monkeypatch, build, expected):
    monkeypatch.setattr(cv2, "getBuildInformation", lambda: build)
    has_gstreamer.cache_clear()  # the answer is cached per process
    try:
        assert has_gstreamer() is expected
    finally:
        has_gstreamer.cache_clear()


# ---- files, folders, images -----------------------------------------------------------------
def test_video_file_yields_every_frame(video):
    with open_source(str(video)) as src:
        assert src.spec.kind == "file" and not src.live and src.fps == pytest.approx(30.0)
        assert src.frame_count == 12
        items = list(src)
    assert len(items) == 12 and src.frames_read == 12
    frame, t = items[3]
    assert frame.dtype == np.uint8 and frame.shape == (48, 64, 3)
    assert t == pytest.approx(3 / 30.0)


def test_folder_natural_order_and_single_image(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in (10, 2, 1):
        cv2.imwrite(str(folder / f"f{i}.png"), np.full((8, 10, 3), i, np.uint8))
    (folder / "notes.txt").write_text("ignored")
    src = open_source(str(folder), fps=10.0)
    got = [(int(f[0, 0, 0]), t) for f, t in src]
    assert got == [(1, 0.0), (2, 0.1), (10, pytest.approx(0.2))] and src.frame_count == 3
    one = list(open_source(str(folder / "f2.png")))
    assert len(one) == 1 and one[0][0].shape == (8, 10, 3)


def test_empty_folder_missing_and_corrupt_files(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="no images .* in folder"):
        open_source(str(tmp_path / "empty"))
    with pytest.raises(SourceError, match="source not found"):
        open_source(str(tmp_path / "missing.mp4"))
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(SourceError, match="broken.mp4"):
        list(open_source(str(bad)))
    bad_img_dir = tmp_path / "badimg"
    bad_img_dir.mkdir()
    (bad_img_dir / "x.png").write_bytes(b"not a png")
    with pytest.raises(SourceError, match="cannot read image"):
        list(open_source(str(bad_img_dir)))


def test_camera_that_does_not_open_is_one_line_error():
    with pytest.raises(SourceError, match="camera 9 could not be opened") as info:
        open_source("9")
    assert "\n" not in str(info.value)


def test_csi_without_gstreamer(monkeypatch):
    monkeypatch.setattr(readers, "has_gstreamer", lambda: False)
    with pytest.raises(SourceError, match="needs OpenCV built with GStreamer"):
        open_source("csi://0")


def test_open_source_argument_checks():
    with pytest.raises(SourceError, match="fps"):
        open_source("synthetic", fps=0)
    with pytest.raises(SourceError, match="reconnect"):
        open_source("synthetic", reconnect_attempts=-1)


# ---- synthetic --------------------------------------------------------------------------------
def test_synthetic_source_real_stream():
    src = open_source("synthetic", size=(32, 40), frames=3, fps=25.0)
    it = iter(src)
    (f0, t0), (_f1, t1) = next(it), next(it)
    assert f0.shape == (32, 40, 3) and f0.dtype == np.uint8 and (t0, t1) == (0.0, 0.04)
    assert src.live is True and src.frame_count is None  # a camera stand-in: latest-frame policy
    src.close()


def test_synthetic_source_contract_with_stand_in(monkeypatch):
    calls = {}

    class Stream:
        def __init__(self, frames, size, seed, fps):
            calls.update(frames=frames, size=size, seed=seed, fps=fps)
            self.n = 0

        def __next__(self):
            self.n += 1
            return np.zeros((*self.size_, 3), np.uint8), self.n / 30

        size_ = (4, 6)

    fake = types.ModuleType("b2v_edge.data.synthetic")
    fake.SyntheticStream = Stream
    monkeypatch.setitem(sys.modules, "b2v_edge.data.synthetic", fake)
    src = open_source("synthetic", size=(4, 6), frames=5, seed=3, fps=30.0)
    assert calls == {"frames": 5, "size": (4, 6), "seed": 3, "fps": 30.0}
    assert next(iter(src))[0].shape == (4, 6, 3)
    monkeypatch.setitem(sys.modules, "b2v_edge.data.synthetic", None)
    with pytest.raises(SourceError, match="synthetic source is unavailable"):
        open_source("synthetic")


# ---- live: reconnects --------------------------------------------------------------------------
class _FlakyReader:
    """Stand-in reader: delivers ``good`` frames, then fails every read."""

    def __init__(self, good):
        self.good = good

    def read(self):
        if self.good <= 0:
            return None
        self.good -= 1
        return np.zeros((2, 2, 3), np.uint8), 0.0

    def close(self):
        pass


def test_lost_camera_reconnects_then_fails_clearly():
    opened = []

    def factory():
        opened.append(1)
        return _FlakyReader(good=2 if len(opened) == 1 else 0)

    src = Source(SourceSpec("0", "camera", 0, live=True), factory, fps=30.0, reconnect_attempts=3, reconnect_delay=0.0)
    frames = []
    with pytest.raises(SourceError, match="camera 0 was lost and did not come back after 3 reconnect attempts"):
        for f, _ in src:
            frames.append(f)
    assert len(frames) == 2 and len(opened) == 4 and src.reconnects == 3


def test_lost_camera_that_comes_back_keeps_streaming():
    readers = iter([_FlakyReader(1), _FlakyReader(3)])
    factory = lambda: next(readers, None) or _FlakyReader(0)  # noqa: E731
    src = Source(SourceSpec("0", "camera", 0, live=True), factory, fps=None, reconnect_attempts=2, reconnect_delay=0.0)
    got = []
    with pytest.raises(SourceError, match="after 2 reconnect"):
        for f, _ in src:
            got.append(f)
    assert len(got) == 4 and src.reconnects == 3  # 1 that worked, then 2 that did not


def test_reconnect_when_reopen_fails():
    calls = []

    def factory():
        calls.append(1)
        if len(calls) > 1:
            raise SourceError("camera 0 could not be opened")
        return _FlakyReader(0)

    src = Source(SourceSpec("0", "camera", 0, live=True), factory, fps=None, reconnect_attempts=2, reconnect_delay=0.0)
    with pytest.raises(SourceError, match="after 2 reconnect attempts"):
        list(src)
    assert len(calls) == 3


# ---- the table of kinds ------------------------------------------------------------------------
class Ramp:
    """A toy reader: ``toy://N`` gives N flat frames of value 0, 1, ..., N - 1."""

    def __init__(self, spec, context):
        self.count, self.i, self.size = int(spec.target), 0, context.size

    def read(self):
        if self.i >= self.count:
            return None
        self.i += 1
        return np.full((*self.size, 3), self.i - 1, np.uint8), float(self.i - 1)

    def close(self):
        pass


def test_a_new_source_kind_is_one_table_entry():
    sources.register_source(
        sources.SourceKind("toy", Ramp, False, "toy://N", "N flat frames", ("toy",), lambda uri, rest: int(rest))
    )
    try:
        spec = parse_source("toy://3")
        assert (spec.kind, spec.target, spec.live) == ("toy", 3, False)
        with open_source("toy://3", size=(4, 5)) as src:
            assert [int(f[0, 0, 0]) for f, _ in src] == [0, 1, 2]
        assert ("toy://N", "toy", False, "N flat frames") in sources.describe_sources()
    finally:
        del sources.SOURCE_KINDS["toy"]
    with pytest.raises(SourceError, match="unknown source scheme toy://"):
        parse_source("toy://3")
    with pytest.raises(ValueError, match="already belongs to kind 'csi'"):
        sources.register_source(sources.SourceKind("other", Ramp, False, "csi://", "", ("csi",)))


def test_table_lists_every_built_in_kind_with_its_live_flag():
    live = {kind: flag for _, kind, flag, _ in sources.describe_sources()}
    assert live == {
        "camera": True,
        "csi": True,
        "stream": True,
        "synthetic": True,
        "folder": False,
        "image": False,
        "file": False,
    }


def test_synthetic_uri_options_and_camera_pacing():
    spec = parse_source("synthetic://?fps=50&seed=2")
    assert spec.kind == "synthetic" and spec.live and spec.options == {"fps": "50", "seed": "2"}
    src = open_source("synthetic://?fps=50", size=(8, 8), frames=3)
    assert src.fps == 50.0
    it = iter(src)
    t0 = time.monotonic()
    stamps = [next(it)[1] for _ in range(6)]
    assert time.monotonic() - t0 >= 5 / 50  # released on the clock, like a 50 fps camera
    assert stamps == pytest.approx([i / 50 for i in range(6)])
    with pytest.raises(SourceError, match="fps must be a number"):
        open_source("synthetic://?fps=fast")


def test_a_corrupt_image_in_a_folder_is_skipped_with_a_warning(tmp_path, caplog):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(4):
        cv2.imwrite(str(folder / f"f{i}.png"), np.full((8, 8, 3), 40 * i, np.uint8))
    (folder / "f2.png").write_bytes(b"not a png")
    with caplog.at_level("WARNING", logger="b2v_edge.runtime"):
        frames = list(open_source(str(folder), fps=10.0))
    assert [int(f[0, 0, 0]) for f, _ in frames] == [0, 40, 120]
    assert [t for _, t in frames] == pytest.approx([0.0, 0.1, 0.3])
    assert "f2.png" in caplog.text and "skipped" in caplog.text


def test_a_folder_of_only_corrupt_images_is_an_error(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(2):
        (folder / f"f{i}.png").write_bytes(b"junk")
    with pytest.raises(SourceError, match="none of the 2 images could be read"):
        list(open_source(str(folder)))


def test_a_truncated_video_warns_how_many_frames_it_had(tmp_path, caplog, runtime_models):
    full = runtime_models.write_video(tmp_path / "full.avi", frames=60)
    cut = tmp_path / "cut.avi"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with caplog.at_level("WARNING", logger="b2v_edge.runtime"):
        frames = list(open_source(str(cut)))
    assert 0 < len(frames) < 60
    assert f"ended after {len(frames)} of its 60 frames" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="b2v_edge.runtime"):
        assert len(list(open_source(str(full)))) == 60
    assert "ended after" not in caplog.text
