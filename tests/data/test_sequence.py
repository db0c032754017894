"""b2v_edge/data/sequence.py: blur = mean of consecutive frames of real footage."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from b2v_edge.data.sequence import FrameSequence, SequenceError, load_frames_dir, load_video


def _moving_frames(t: int, h: int = 40, w: int = 56) -> np.ndarray:
    """A bright square moving 2 px per frame to the right over a gradient: uint8 [T, H, W, 3]."""
    base = np.tile(np.linspace(0, 120, w, dtype=np.float32), (h, 1))
    frames = []
    for k in range(t):
        f = base.copy()
        f[10:20, 2 * k + 2 : 2 * k + 12] = 250
        frames.append(np.repeat(f[:, :, None], 3, axis=2).astype(np.uint8))
    return np.stack(frames)


def test_window_mean_is_the_blur_and_the_frames_are_the_targets():
    seq = _moving_frames(20)
    src = FrameSequence([seq], frames=5, size=(32, 48), split="train", seed=1)
    s = src[3]
    y, x, h, w = s.meta["crop"]
    start = s.meta["start"]
    window = seq[start : start + 5, y : y + h, x : x + w].astype(np.float32) / 255
    np.testing.assert_allclose(s.frames, window, atol=1e-6)
    np.testing.assert_allclose(s.blurred, window.mean(axis=0), atol=1e-6)


def test_subframes_pick_group_centres():
    seq = _moving_frames(30)
    s = FrameSequence([seq], frames=3, size=(32, 48), subframes=3, seed=0)[0]
    y, x, h, w = s.meta["crop"]
    start = s.meta["start"]
    expected = seq[start + 1 : start + 9 : 3, y : y + h, x : x + w].astype(np.float32) / 255
    np.testing.assert_allclose(s.frames, expected, atol=1e-6)


def test_temporal_split_and_determinism():
    seq = _moving_frames(60)
    train = FrameSequence([seq], 3, (32, 48), "train", test_fraction=0.2)
    test = FrameSequence([seq], 3, (32, 48), "test", test_fraction=0.2)
    assert all(train[i].meta["start"] + 3 <= 48 for i in range(20))
    assert len(test) >= 1 and test[0].meta["start"] + 3 <= 12
    np.testing.assert_array_equal(
        train[5].blurred, FrameSequence([seq], 3, (32, 48), "train", test_fraction=0.2)[5].blurred
    )


def test_errors():
    with pytest.raises(SequenceError, match="smaller than the crop"):
        FrameSequence([_moving_frames(10)], 3, (64, 64))
    with pytest.raises(SequenceError, match="consecutive frames"):
        FrameSequence([_moving_frames(4)], 7, (32, 32))


def test_frames_dir_one_sequence_or_one_per_subfolder(tmp_path):
    seq = _moving_frames(8)
    for k, f in enumerate(seq):
        cv2.imwrite(str(tmp_path / f"{k}.png"), f)
    assert [s.shape for s in load_frames_dir(tmp_path)] == [(8, 40, 56, 3)]
    scenes = tmp_path / "scenes"
    for name in ("a", "b"):
        (scenes / name).mkdir(parents=True)
        for k, f in enumerate(seq[:5]):
            cv2.imwrite(str(scenes / name / f"{k:04d}.png"), f)
    assert len(load_frames_dir(scenes)) == 2


def test_frames_dir_errors(tmp_path):
    with pytest.raises(SequenceError, match="no such folder"):
        load_frames_dir(tmp_path / "missing")
    with pytest.raises(SequenceError, match="no images"):
        load_frames_dir(tmp_path)
    cv2.imwrite(str(tmp_path / "0.png"), np.zeros((10, 10, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "1.png"), np.zeros((12, 10, 3), np.uint8))
    with pytest.raises(SequenceError, match="differ in size"):
        load_frames_dir(tmp_path)


def test_video(tmp_path):
    seq = _moving_frames(12)
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (56, 40))
    for f in seq:
        writer.write(f)
    writer.release()
    frames = load_video(path)
    assert frames[0].shape == (12, 40, 56, 3)
    with pytest.raises(SequenceError, match="no such file"):
        load_video(tmp_path / "none.mp4")
    (tmp_path / "bad.mp4").write_bytes(b"junk")
    with pytest.raises(SequenceError, match="no frame could be decoded"):
        load_video(tmp_path / "bad.mp4")
