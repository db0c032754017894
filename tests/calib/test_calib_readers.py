"""Calibration readers: folders, videos, cameras, synthetic; errors are one clear line."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from b2v_edge.calib.dataset import build_eval_set, collect, stream_inputs
from b2v_edge.calib.options import CalibError, CalibOptions
from b2v_edge.calib.readers import blur_score, make_reader, rgb_to_bgr_uint8
from b2v_edge.runtime.preprocess import preprocess

SIZE = (32, 32)


def _images(folder, n, shape=(32, 32), blur_every=2):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        img = (rng.random((*shape, 3)) * 255).astype(np.uint8)
        if i % blur_every:
            img = cv2.GaussianBlur(img, (0, 0), 1 + i % 5)
        cv2.imwrite(str(folder / f"{i}.png"), img)
    return folder


def _opts(data, **kw):
    return replace(CalibOptions(), data=data, samples=4, eval_samples=2, oversample=1.0, progress=False, **kw)


def test_blur_score_orders_blur():
    sharp = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
    assert blur_score(cv2.GaussianBlur(sharp, (0, 0), 3)) > blur_score(sharp)
    assert rgb_to_bgr_uint8(np.array([[[1.0, 0.5, 0.0]]], np.float32)).tolist() == [[[0, 128, 255]]]


def test_image_folder_uses_runtime_preprocessing(tmp_path):
    opts = _opts(f"images:{_images(tmp_path / 'imgs', 8, shape=(48, 64))}")
    reader = make_reader(opts, SIZE, 3)
    calib = collect(reader, opts, SIZE)
    assert len(calib.selected) == 4 and len(calib.leftovers) == 2
    assert calib.warnings and "64x48" in calib.warnings[0] and "full resolution" in calib.warnings[0]
    xs = list(stream_inputs(reader, calib, SIZE, "full"))
    first = cv2.imread(calib.selected[0].id)
    np.testing.assert_array_equal(xs[0], preprocess(first, SIZE, "full")[0])
    letterboxed = list(stream_inputs(reader, calib, SIZE, "letterbox"))
    np.testing.assert_array_equal(letterboxed[0], preprocess(first, SIZE, "letterbox")[0])
    assert len(calib.sample_hash) == 64
    data, source = build_eval_set(reader, calib, opts, SIZE)
    assert source == "held_out" and len(data.inputs) == 2 and not data.has_gt
    assert data.boxes[0] == (0, 0, 32, 32)  # a full-resolution crop: every pixel is content
    data, _ = build_eval_set(reader, calib, replace(opts, fit="letterbox"), SIZE)
    assert data.boxes[0] == (4, 0, 24, 32)  # letterbox bars cropped from the PSNR


def test_folder_errors(tmp_path):
    with pytest.raises(CalibError, match="no such folder"):
        make_reader(_opts(f"images:{tmp_path / 'missing'}"), SIZE, 3)
    (tmp_path / "txt").mkdir()
    (tmp_path / "txt" / "notes.txt").write_text("x")
    with pytest.raises(CalibError, match=r"no images .*found only \.txt"):
        make_reader(_opts(f"images:{tmp_path / 'txt'}"), SIZE, 3)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CalibError, match="no images"):
        make_reader(_opts(f"images:{tmp_path / 'empty'}"), SIZE, 3)
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "1.png").write_bytes(b"not a png")
    with pytest.raises(CalibError, match="none of the 1 image"):
        make_reader(_opts(f"images:{junk}"), SIZE, 3).scan(10, lambda n: None)


def test_one_corrupt_image_is_skipped_with_a_warning(tmp_path, caplog):
    bad = _images(tmp_path / "bad", 3)
    (bad / "9.png").write_bytes(b"not a png")
    with caplog.at_level("WARNING", logger="b2v_edge.calib"):
        found = make_reader(_opts(f"images:{bad}"), SIZE, 3).scan(10, lambda n: None)
    assert len(found) == 3 and not any(c.id.endswith("9.png") for c in found)
    assert "9.png" in caplog.text and "skipped" in caplog.text


def test_fewer_frames_than_samples(tmp_path):
    opts = replace(_opts(f"images:{_images(tmp_path / 'few', 3)}"), samples=5)
    with pytest.raises(CalibError, match=r"gave 3 frame\(s\), fewer than --samples 5.*--samples 3"):
        collect(make_reader(opts, SIZE, 3), opts, SIZE)


def test_video_two_passes(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (40, 30))
    rng = np.random.default_rng(1)
    for i in range(12):
        writer.write(cv2.GaussianBlur((rng.random((30, 40, 3)) * 255).astype(np.uint8), (0, 0), 0.5 + i % 4))
    writer.release()
    opts = _opts(f"video:{path}")
    reader = make_reader(opts, SIZE, 3)
    calib = collect(reader, opts, SIZE)
    assert all("#" in c.id for c in calib.selected)
    assert len(list(stream_inputs(reader, calib, SIZE, "resize"))) == 4
    with pytest.raises(CalibError, match="no such file"):
        make_reader(_opts(f"video:{tmp_path / 'none.mp4'}"), SIZE, 3)
    (tmp_path / "junk.mp4").write_bytes(b"junk")
    with pytest.raises(CalibError, match="junk.mp4"):
        make_reader(_opts(f"video:{tmp_path / 'junk.mp4'}"), SIZE, 3).scan(4, lambda n: None)


@pytest.mark.parametrize("camera", ["/dev/video97", "63"])
def test_camera_unavailable(camera):
    opts = _opts(f"camera:{camera}")
    with pytest.raises(CalibError, match=f"camera:{camera}"):
        make_reader(opts, SIZE, 3).scan(4, lambda n: None)


def test_synthetic_has_ground_truth():
    opts = _opts("synthetic")
    reader = make_reader(opts, SIZE, 3)
    calib = collect(reader, opts, SIZE)
    assert reader.metric == "blur_px" and calib.coverage.metric == "blur_px"
    data, source = build_eval_set(reader, calib, opts, SIZE)
    assert source == "test_split" and data.has_gt and data.gts[0].shape == (3, 3, 32, 32)


def test_gopro_missing_path(tmp_path):
    with pytest.raises(CalibError, match="gopro"):
        make_reader(_opts(f"gopro:{tmp_path / 'nope'}"), SIZE, 3).scan(4, lambda n: None)


def test_gopro_windows_with_ground_truth(tmp_path):
    rng = np.random.default_rng(0)
    for split, scenes in (("train", ("a", "b")), ("test", ("c",))):
        for scene in scenes:
            folder = tmp_path / "gopro" / split / scene
            folder.mkdir(parents=True)
            for j in range(9):
                cv2.imwrite(str(folder / f"{j + 1:06d}.png"), (rng.random((24, 40, 3)) * 255).astype(np.uint8))
    opts = _opts(f"gopro:{tmp_path / 'gopro'}")
    reader = make_reader(opts, SIZE, 3)
    calib = collect(reader, opts, SIZE)  # 6 train windows of 3 frames
    assert reader.metric == "laplacian" and len(calib.selected) == 4 and calib.warnings
    data, source = build_eval_set(reader, calib, opts, SIZE)
    assert source == "test_split" and data.has_gt and data.gts[0].shape == (3, 3, 32, 32)


def test_panorama_folder(tmp_path):
    folder = tmp_path / "pano"
    folder.mkdir()
    v, u = np.mgrid[0:64, 0:128]
    for k in range(10):
        img = np.stack([((u // (4 + k) + v // 8) % 2) * 200, u * 2 % 256, v * 4 % 256], -1).astype(np.uint8)
        cv2.imwrite(str(folder / f"p{k}.png"), img)
    opts = _opts(f"panorama:{folder}")
    reader = make_reader(opts, SIZE, 3)
    calib = collect(reader, opts, SIZE)
    assert reader.metric == "blur_px" and len(calib.selected) == 4
    data, source = build_eval_set(reader, calib, opts, SIZE)
    assert source == "test_split" and data.has_gt


def test_few_or_flat_calibration_frames_are_warned_about(tmp_path):
    grey = tmp_path / "grey"
    grey.mkdir()
    for i in range(6):
        cv2.imwrite(str(grey / f"{i}.png"), np.full((32, 32, 3), 128, np.uint8))
    opts = _opts(f"images:{grey}", fit="resize")
    calib = collect(make_reader(opts, SIZE, 3), opts, SIZE)
    assert any("only 4 calibration frame(s)" in w for w in calib.warnings)
    assert any("same blur score" in w for w in calib.warnings)
    textured = _images(tmp_path / "tex", 24)
    opts = replace(_opts(f"images:{textured}", fit="resize"), samples=16)
    calib = collect(make_reader(opts, SIZE, 3), opts, SIZE)
    assert not [w for w in calib.warnings if "calibration frame" in w]
