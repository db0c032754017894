"""runtime/source_uri.py: image-folder listing (parse_source is covered in test_sources.py)."""

from __future__ import annotations

from b2v_edge.runtime import source_uri, sources
from b2v_edge.runtime.source_uri import list_images, natural_key


def test_list_images_natural_order_files_only(tmp_path):
    for name in ("10.png", "2.JPG", "1.webp", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "dir.png").mkdir()
    assert [p.name for p in list_images(tmp_path)] == ["1.webp", "2.JPG", "10.png"]
    assert list_images(tmp_path / "dir.png") == []
    assert sorted(["b10", "b9"], key=lambda n: natural_key(tmp_path / n)) == ["b9", "b10"]


def test_sources_re_exports_the_uri_helpers():
    for name in ("IMAGE_EXTS", "SourceSpec", "SourceError", "parse_source", "list_images", "has_gstreamer"):
        assert getattr(sources, name) is getattr(source_uri, name)
