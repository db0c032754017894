"""runtime/outputs.py: output URIs, the output table, several outputs in one run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from b2v_edge.runtime import outputs
from b2v_edge.runtime.options import RunOptions
from b2v_edge.runtime.outputs import (
    OUTPUT_KINDS,
    OutputContext,
    OutputError,
    OutputKind,
    OutputUnavailable,
    describe_outputs,
    open_output,
    parse_output,
    register_output,
)
from b2v_edge.runtime.pipeline import run


@pytest.mark.parametrize(
    "uri, kind, target",
    [
        ("display://", "display", ""),
        ("out.mp4", "file", Path("out.mp4")),
        ("file://sub/out.avi", "file", Path("sub/out.avi")),
        ("file:///tmp/x.mp4?fps=12", "file", Path("/tmp/x.mp4")),
        ("mjpeg://127.0.0.1:8080", "mjpeg", ("127.0.0.1", 8080)),
        ("mjpeg://[::1]:9000", "mjpeg", ("::1", 9000)),
    ],
)
def test_parse_output(uri, kind, target):
    spec = parse_output(uri)
    assert (spec.kind, spec.target) == (kind, target)


@pytest.mark.parametrize(
    "uri, match",
    [
        ("", "empty output URI"),
        ("rtp://x:5000", "unknown output 'rtp://x:5000'; use one of: display://"),
        ("out.gif", "must end with .mp4 or .avi"),
        ("mjpeg://host:99999", "HOST:PORT"),
    ],
)
def test_parse_output_errors(uri, match):
    with pytest.raises(OutputError, match=match):
        parse_output(uri)


def test_table_rows_and_public_address_check():
    assert [row[1] for row in describe_outputs()][:3] == ["display", "file", "mjpeg"]
    with pytest.raises(OutputError, match="--serve-public"):
        outputs.check_public(parse_output("mjpeg://0.0.0.0:8080"), allowed=False)
    outputs.check_public(parse_output("mjpeg://0.0.0.0:8080"), allowed=True)


def test_display_without_a_screen_is_unavailable_not_fatal(monkeypatch):
    monkeypatch.setattr(outputs, "has_display", lambda: False)
    with pytest.raises(OutputUnavailable, match="no display found"):
        open_output("display://")


def test_file_output_takes_its_rate_from_the_uri(tmp_path):
    sink = open_output(f"file://{tmp_path}/a.avi?fps=12", OutputContext(fps=30))
    assert sink.fps == 12.0 and sink.path == tmp_path / "a.avi"
    sink.close(ok=False)


class Collect:
    """A toy output kind: keeps every image it is given."""

    instances = []

    def __init__(self, spec, context):
        self.spec, self.images, self.closed = spec, [], None
        Collect.instances.append(self)

    def write(self, blurred, images, overlay):
        self.images += images
        return True

    def close(self, ok=True):
        self.closed = ok


def test_a_new_output_kind_is_one_table_entry_and_several_outputs_run_at_once(tmp_path, runtime_models):
    register_output(OutputKind("collect", Collect, "collect://NAME", "keep images in memory", ("collect",)))
    try:
        deploy = runtime_models.make_deploy(tmp_path / "d", h=48, w=64)
        video = runtime_models.write_video(tmp_path / "in.avi", frames=5)
        options = RunOptions(
            model=deploy,
            source=str(video),
            headless=True,
            outputs=("collect://a", f"file://{tmp_path}/out.mp4", f"{tmp_path}/out.avi"),
        )
        s = run(options)
    finally:
        del OUTPUT_KINDS["collect"]
    toy = Collect.instances[-1]
    assert toy.spec.target == "a" and len(toy.images) == 5 and toy.closed is True
    assert s.frames_written == 10 and len(s.outputs) == 2
    assert (tmp_path / "out.mp4").exists() and (tmp_path / "out.avi").exists()
    assert all(img.shape == (48, 64, 3) and img.dtype == np.uint8 for img in toy.images)
