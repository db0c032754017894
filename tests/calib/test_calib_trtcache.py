"""TensorRT calibration cache text format."""

from __future__ import annotations

import struct

import pytest

from b2v_edge.calib.options import CalibError
from b2v_edge.calib.trtcache import parse_trt_cache, trt_version_number, write_trt_cache


@pytest.mark.parametrize(
    "version, number",
    [("8.5.2", 8502), ("8.2.1.8", 8201), ("8.6", 8600), ("10.9.0", 100900), ("10.3.0", 100300), ("7.1.3", 7103)],
)
def test_version_numbers(version, number):
    assert trt_version_number(version) == number


def test_known_encoding_and_roundtrip(tmp_path):
    path = write_trt_cache(tmp_path / "c.cache", {"blurred": 1.0 / 127.0, "/enc/Conv_output_0": 0.25}, "8.5.2")
    text = path.read_text()
    assert text.splitlines()[0] == "TRT-8502-EntropyCalibration2"
    assert "blurred: 3c010204" in text  # 1/127 as big-endian float32 bits
    assert "/enc/Conv_output_0: 3e800000" in text
    version, algorithm, scales = parse_trt_cache(text)
    assert (version, algorithm) == (8502, "EntropyCalibration2")
    assert scales["blurred"] == pytest.approx(struct.unpack(">f", struct.pack(">f", 1 / 127))[0])


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello\n",
        "TRT-x-EntropyCalibration2\n",
        "TRT-8502-EntropyCalibration2\nt: zz\n",
        "TRT-8502-EntropyCalibration2\nno separator\n",
    ],
)
def test_bad_cache_text(text):
    with pytest.raises(CalibError):
        parse_trt_cache(text)


def test_invalid_scale_or_version(tmp_path):
    with pytest.raises(CalibError, match="invalid scale"):
        write_trt_cache(tmp_path / "c", {"t": 0.0}, "8.5.2")
    with pytest.raises(CalibError, match="TensorRT version"):
        trt_version_number("eight")
