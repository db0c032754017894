"""The base install runs and checks parity in a fresh venv without torch (the Jetson story).

Slow (downloads the base dependencies from PyPI): runs in CI (CI=true) or with B2V_VENV_TEST=1.
One venv serves both tests.
"""

import json
import os
import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    os.environ.get("CI") != "true" and os.environ.get("B2V_VENV_TEST") != "1",
    reason="creates a venv and installs from PyPI; set B2V_VENV_TEST=1 (CI does it)",
)


@pytest.fixture(scope="module")
def base_venv(tmp_path_factory) -> Path:
    """A venv with only ``pip install .`` (the base dependencies); its ``bin`` folder."""
    env_dir = tmp_path_factory.mktemp("base") / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    py = env_dir / "bin" / "python"
    pip = [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run(pip + [str(ROOT)], check=True, timeout=1200)
    code = "import importlib.util, sys; sys.exit(importlib.util.find_spec('torch') is not None)"
    assert subprocess.run([str(py), "-c", code]).returncode == 0, "torch must not be installed by the base extra"
    return env_dir / "bin"


def test_base_install_runs_demo_without_torch(base_venv, tmp_path):
    out = tmp_path / "out.mp4"
    proc = subprocess.run(
        [str(base_venv / "b2v-edge"), "run", "--headless", "--max-frames", "4", "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-1500:] + proc.stderr[-1500:]
    assert out.exists() and out.stat().st_size > 0
    probe = "import av, sys; c = av.open(sys.argv[1]); s = c.streams.video[0]; print(s.codec_context.name, s.frames)"
    codec = subprocess.run([str(base_venv / "python"), "-c", probe, str(out)], capture_output=True, text=True)
    assert codec.stdout.split() == ["h264", "4"], codec.stderr[-1500:]  # the base install writes H.264


def test_base_install_checks_parity_without_torch(base_venv, tmp_path, parity_helpers):
    """A deploy dir exported here (with torch) is checked in the torch-free venv against its reference set."""
    from b2v_edge.export.api import ExportOptions, export

    checkpoint = parity_helpers.make_checkpoint(tmp_path / "tiny.pt")
    deploy = tmp_path / "deploy"
    export(ExportOptions(out_dir=deploy, checkpoint=str(checkpoint), precision="fp16", height=64, width=64))
    proc = subprocess.run(
        [str(base_venv / "b2v-edge"), "parity", str(deploy), "--out", str(tmp_path / "rep")],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-1500:] + proc.stderr[-1500:]
    assert {p.name for p in (tmp_path / "rep").iterdir()} == {"report.json", "report.md", "report.html"}
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert report["passed"] and report["reference"]["origin"] == "stored"
    assert [a["status"] for a in report["artifacts"]] == ["pass", "pass"]
    assert "torch" not in report["environment"]["versions"]
    doctor = subprocess.run(
        [str(base_venv / "b2v-edge"), "doctor", str(deploy), "--json"], capture_output=True, text=True
    )
    assert doctor.returncode == 0 and json.loads(doctor.stdout)["checks"], doctor.stderr[-1500:]
