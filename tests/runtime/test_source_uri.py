"""runtime/source_uri.py: URI splitting and the helpers sources.py re-exports."""

from __future__ import annotations

from b2v_edge.runtime import source_uri, sources
from b2v_edge.runtime.source_uri import split_uri


def test_sources_re_exports_the_uri_helpers():
    for name in ("SourceSpec", "SourceError", "has_gstreamer", "csi_pipeline", "rtsp_pipeline"):
        assert getattr(sources, name) is getattr(source_uri, name)


def test_split_uri():
    assert split_uri("csi://0?width=1920&fps=30&fps=60") == ("csi", "0", {"width": "1920", "fps": "60"})
    assert split_uri("file://sub/out.mp4") == ("file", "sub/out.mp4", {})
    assert split_uri("file:///tmp/a.mp4") == ("file", "/tmp/a.mp4", {})
    assert split_uri("mjpeg://[::1]:8080") == ("mjpeg", "[::1]:8080", {})
    assert split_uri("RTSP://cam/live") == ("rtsp", "cam/live", {})
    assert split_uri("clip.mp4") == ("", "clip.mp4", {})
