"""The numpy data modules must not import torch (the edge runtime has no torch)."""

from __future__ import annotations

import subprocess
import sys


def test_data_modules_do_not_import_torch() -> None:
    code = (
        "import b2v_edge.data, b2v_edge.data.synthetic, b2v_edge.data.gopro, "
        "b2v_edge.data.panorama, sys; assert 'torch' not in sys.modules, 'torch was imported'"
    )
    cmd = [sys.executable, "-c", code]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
