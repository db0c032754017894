"""runtime/source_uri.py (parse_source is covered in test_sources.py)."""

from __future__ import annotations

from b2v_edge.runtime import source_uri, sources


def test_sources_re_exports_the_uri_helpers():
    for name in ("SourceSpec", "SourceError", "parse_source", "has_gstreamer"):
        assert getattr(sources, name) is getattr(source_uri, name)
