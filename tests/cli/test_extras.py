"""b2v_edge/cli/extras.py: each command names its missing extra in one line (exit 2); the README says the same."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from b2v_edge.cli import extras
from b2v_edge.cli.main import app

tomllib = pytest.importorskip("tomllib")
ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
#: import name -> distribution name where they differ
DIST = {"onnxsim": "onnxsim", "onnxconverter_common": "onnxconverter-common"}


def _without(monkeypatch, *modules):
    real = extras._importable
    monkeypatch.setattr(extras, "_importable", lambda name: name not in modules and real(name))


ARGS = {
    "export": ["export", "--out", "x"],
    "lint": ["lint", "m.onnx"],
    "calibrate": ["calibrate", "d"],
    "train": ["train"],
    "eval": ["eval"],
}


@pytest.mark.parametrize(
    "command, missing",
    [
        (c, m)
        for c, m in (
            ("export", "onnx"),
            ("export", "torch"),
            ("lint", "onnx"),
            ("calibrate", "onnx"),
            ("train", "torch"),
            ("eval", "torch"),
        )
    ],
)
def test_a_missing_extra_is_one_line_and_exit_2(monkeypatch, tmp_path, command, missing):
    monkeypatch.chdir(tmp_path)
    _without(monkeypatch, missing)
    result = runner.invoke(app, ARGS[command])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    extra = extras.COMMAND_EXTRAS[command].extra
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output
    assert f"pip install 'b2v-edge[{extra}]'" in lines[0] and f"missing: {missing}" in lines[0]
    if missing == "torch":
        assert "download.pytorch.org/whl/cpu" in lines[0]
    assert not (tmp_path / "x").exists()


def test_every_command_has_a_row_and_every_extra_is_in_pyproject():
    assert set(extras.COMMAND_EXTRAS) == set(get_command(app).commands)
    optional = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for extra, modules in extras.EXTRA_MODULES.items():
        if not extra:
            continue
        names = {re.split(r"[<>=\[;]", req)[0].strip().lower() for req in optional[extra]}
        for module in modules:
            assert DIST.get(module, module).lower() in names, (extra, module)


def _readme_extras_table():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("| command | install | for |\n|---|---|---|\n", 1)[1].split("\n\n", 1)[0]
    return dict(re.findall(r"^\| `b2v-edge ([a-z-]+)` \| (.+?) \|", table, flags=re.M))


def test_readme_table_names_the_same_extra_for_every_command():
    table = _readme_extras_table()
    assert set(table) == set(extras.COMMAND_EXTRAS)
    for command, row in extras.COMMAND_EXTRAS.items():
        want = f"`[{row.extra}]`" if row.extra else "base"
        assert want in table[command], (command, table[command])
        if row.optional:
            assert f"`[{row.optional}]`" in table[command]
