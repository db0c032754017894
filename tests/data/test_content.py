"""b2v_edge/data/content.py: the sharp content the motion renderer moves over."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from b2v_edge.data.content import MAX_PHOTO_SIDE, BundledPhotos, ContentError, DeadLeaves, PhotoFolder
from b2v_edge.data.synthetic import SyntheticBlur


def _write(path, h, w, seed=0):
    rng = np.random.default_rng(seed)
    cv2.imwrite(str(path), (rng.random((h, w, 3)) * 255).astype(np.uint8))


def test_photo_folder_reads_a_tree_of_mixed_sizes(tmp_path):
    (tmp_path / "sub").mkdir()
    _write(tmp_path / "a.png", 64, 90)
    _write(tmp_path / "sub" / "b.jpg", 2000, 1200, seed=1)
    folder = PhotoFolder(tmp_path)
    assert len(folder) == 2
    names = set()
    for i in range(6):
        name, image = folder.background(np.random.default_rng(i), i)
        names.add(name)
        assert image.dtype == np.uint8 and image.ndim == 3 and max(image.shape[:2]) <= MAX_PHOTO_SIDE
    assert names == {"a.png", "b.jpg"}


def test_photo_folder_skips_unreadable_and_tiny_images(tmp_path, caplog):
    _write(tmp_path / "good.png", 80, 80)
    _write(tmp_path / "tiny.png", 20, 20)
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    folder = PhotoFolder(tmp_path)
    got = {folder.background(np.random.default_rng(i), i)[0] for i in range(10)}
    assert got == {"good.png"}
    assert "skipping" in caplog.text


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: None, "no such folder"),
        (lambda p: p.mkdir(), "no images"),
        (lambda p: (p.mkdir(), (p / "x.png").write_bytes(b"junk")), "none of the images could be read"),
    ],
)
def test_photo_folder_errors(tmp_path, setup, message):
    root = tmp_path / "photos"
    setup(root)
    with pytest.raises(ContentError, match=message) as info:
        PhotoFolder(root)
    assert "\n" not in str(info.value)


def test_photo_folder_splits_large_folders_by_path_hash(tmp_path):
    for i in range(20):
        _write(tmp_path / f"p{i:02d}.png", 64, 64, seed=i)
    train, test = PhotoFolder(tmp_path, "train"), PhotoFolder(tmp_path, "test")
    assert len(train) + len(test) == 20 and len(test) >= 1
    assert not {p.name for p in train.files} & {p.name for p in test.files}
    assert [p.name for p in PhotoFolder(tmp_path, "test").files] == [p.name for p in test.files]
    small = tmp_path / "small"
    small.mkdir()
    _write(small / "only.png", 64, 64)
    assert len(PhotoFolder(small, "test")) == 1  # too few photos to split: every photo in both splits


def test_renders_over_photos_are_seeded(tmp_path):
    for i in range(3):
        _write(tmp_path / f"p{i}.png", 120, 160, seed=i)
    a = SyntheticBlur(5, (48, 48), "train", seed=2, content=PhotoFolder(tmp_path))[7]
    b = SyntheticBlur(5, (48, 48), "train", seed=2, content=PhotoFolder(tmp_path))[7]
    np.testing.assert_array_equal(a.frames, b.frames)
    assert a.blurred.shape == (48, 48, 3) and a.meta["source"].startswith("photos:")


def test_dead_leaves_content_is_endless_and_seeded():
    content = DeadLeaves(seed=1, size=64)
    a = content.background(np.random.default_rng([1, 5]), 5)[1]
    b = content.background(np.random.default_rng([1, 5]), 5)[1]
    c = content.background(np.random.default_rng([1, 6]), 6)[1]
    np.testing.assert_array_equal(a, b)
    assert a.shape == (64, 64, 3) and not np.array_equal(a, c)
    assert content.patch(np.random.default_rng(0), 0).shape == (32, 32, 3)
    with pytest.raises(ValueError):
        DeadLeaves(size=16)


def test_bundled_photos_cycle():
    content = BundledPhotos("test")
    n = len(content.names)
    assert content.background(None, 0)[0] == content.background(None, n)[0] == content.names[0]
