"""b2v_edge/cli/doctor.py: `b2v-edge doctor` on this CPU machine (exit 0, readable table, valid JSON)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from b2v_edge.cli.main import app
from b2v_edge.cli.run import shipped_demo_dir


def invoke(*args):
    return CliRunner().invoke(app, [*map(str, args)])


def test_table_exits_zero_here():
    r = invoke("doctor")
    assert r.exit_code == 0, r.output
    for text in ("b2v-edge doctor", "TensorRT", "GPU", "OpenCV", "cameras", "memory", " OK, ", "missing"):
        assert text in r.stdout


def test_json_with_a_deploy_dir():
    r = invoke("doctor", shipped_demo_dir(), "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    names = [c["name"] for c in data["checks"]]
    assert "fits: model.onnx" in names and "reference set" in names and "TensorRT" in names
    assert all(c["status"] in ("ok", "warn", "missing") for c in data["checks"])


def test_bad_deploy_dir_is_one_error_line(tmp_path):
    r = invoke("doctor", tmp_path)
    assert r.exit_code == 2 and r.stderr.startswith("error: ") and "no manifest.json" in r.stderr
