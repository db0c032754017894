"""runtime/options.py: RunOptions is validated once, with one-line messages naming the flag."""

from __future__ import annotations

from pathlib import Path

import pytest

from b2v_edge.runtime.options import RunError, RunOptions


def test_defaults_are_valid():
    o = RunOptions(model="deploy")
    assert (o.source, o.backend, o.show, o.fit, o.max_frames) == ("synthetic", "auto", "middle", "full", None)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"backend": "tflite"}, "--backend must be one of auto, tensorrt, onnxruntime"),
        ({"show": "movie"}, "--show must be one of middle, sequence, grid"),
        ({"precision": "fp8"}, "--precision must be one of fp32, fp16, int8"),
        ({"fit": "crop"}, "--fit"),
        ({"max_frames": 0}, "max-frames must be an integer >= 1"),
        ({"shadow_every": -1}, "shadow-every"),
        ({"threads": 1.5}, "threads"),
        ({"playback_fps": 0}, "playback-fps must be > 0"),
        ({"output": "out.gif"}, r"must end with .mp4 or .avi"),
        ({"outputs": ("ftp://x",)}, "unknown output 'ftp://x'"),
        ({"outputs": ("mjpeg://0.0.0.0:8080",)}, "--serve-public"),
        ({"outputs": ("display://",), "headless": True}, "contradict"),
        ({"serve": "localhost:http"}, "HOST:PORT"),
        ({"serve": "0.0.0.0:8080"}, "--serve-public"),
    ],
)
def test_bad_values(kwargs, match):
    with pytest.raises(RunError, match=match) as info:
        RunOptions(model="deploy", **kwargs)
    assert "\n" not in str(info.value)


def test_serve_addresses():
    assert RunOptions(model="d", serve="127.0.0.1:8080").serve_address() == ("127.0.0.1", 8080)
    assert RunOptions(model="d", serve="9000").serve_address() == ("127.0.0.1", 9000)
    assert RunOptions(model="d", serve="[::1]:81").serve_address() == ("::1", 81)
    assert RunOptions(model="d", serve="0.0.0.0:8080", serve_public=True).serve_address() == ("0.0.0.0", 8080)


def test_output_becomes_path():
    assert RunOptions(model="d", output="x/out.MP4").output == Path("x/out.MP4")


def test_flags_are_shorthands_for_output_uris():
    o = RunOptions(model="d", output="out.mp4", serve="127.0.0.1:8080", outputs=("file://b.avi",))
    assert o.output_uris() == ("display://", "out.mp4", "mjpeg://127.0.0.1:8080", "file://b.avi")
    assert RunOptions(model="d", headless=True).output_uris() == ()
    assert RunOptions(model="d", outputs=("display://",)).output_uris() == ("display://",)
