"""b2v_edge/common/images.py: image-folder listing."""

from __future__ import annotations

from b2v_edge.common.images import is_image, list_images, natural_key


def test_list_images_natural_order_files_only(tmp_path):
    for name in ("10.png", "2.JPG", "1.webp", "notes.txt", ".hidden.png"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "dir.png").mkdir()
    assert [p.name for p in list_images(tmp_path)] == ["1.webp", "2.JPG", "10.png"]
    assert list_images(tmp_path / "dir.png") == []
    assert sorted(["b10", "b9"], key=lambda n: natural_key(tmp_path / n)) == ["b9", "b10"]


def test_list_images_recursive_sorts_by_relative_path(tmp_path):
    for rel in ("b/2.png", "b/10.png", "a/x.jpg", "top.png", "a/skip.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    names = [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path, recursive=True)]
    assert names == ["a/x.jpg", "b/2.png", "b/10.png", "top.png"]
    assert [p.name for p in list_images(tmp_path)] == ["top.png"]


def test_is_image_is_case_insensitive(tmp_path):
    assert is_image(tmp_path / "A.JPEG") and not is_image(tmp_path / "a.txt")
