"""b2v_edge/cli/options.py: one vocabulary of flags, clean help on every command, -h and --version."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import click
import pytest
import typer
from packaging.specifiers import SpecifierSet
from typer.main import get_command
from typer.testing import CliRunner

from b2v_edge.cli.main import app, package_version
from b2v_edge.cli.options import ImageSize, parse_size

tomllib = pytest.importorskip("tomllib")
ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
COMMANDS = sorted(get_command(app).commands)


def test_parse_size():
    assert parse_size("256x320") == ImageSize(256, 320) and str(parse_size("128")) == "128x128"
    assert parse_size("64×96") == (64, 96)
    for bad in ("", "0x5", "axb", "1x2x3", "-4"):
        with pytest.raises(typer.BadParameter, match="expected HxW"):
            parse_size(bad)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_is_clean_on_every_command(command):
    result = runner.invoke(app, [command, "-h"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    text = result.output
    assert "<bool>" not in text and "<str>" not in text and "<int>" not in text  # typer 0.25+ metavars
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    assert "{" not in usage  # typer 0.25+ prints {deploy_dir} in usage lines
    assert "-h" in text and "--help" in text
    for arg in get_command(app).commands[command].params:
        if isinstance(arg, click.Argument):
            assert arg.help, f"{command} {arg.name} has no help"


def test_version_and_short_help():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"b2v-edge {package_version()}"
    assert runner.invoke(app, ["-h"]).exit_code == 0


def test_typer_and_click_are_in_the_tested_range():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for name in ("typer", "click"):
        spec = next(d for d in deps if re.match(rf"{name}\b", d))
        assert version(name) in SpecifierSet(spec[len(name) :]), (name, version(name), spec)


SHARED = {
    "size": ("--size", "HxW"),
    "out": ("--out", "PATH"),
    "target": ("--target", "NAME"),
    "backend": ("--backend", "NAME"),
    "precision": ("--precision", "NAME"),
    "threads": ("--threads", "N"),
    "json_out": ("--json", None),
    "as_json": ("--json", None),
    "data": ("--data", "SPEC"),
}


def test_shared_flags_have_one_spelling_everywhere():
    seen = {}
    for name, command in get_command(app).commands.items():
        for param in command.params:
            if param.name in SHARED and isinstance(param, click.Option):
                flag, metavar = SHARED[param.name]
                assert flag in param.opts, (name, param.name, param.opts)
                if metavar:
                    assert param.metavar == metavar, (name, param.name, param.metavar)
                seen.setdefault(flag, set()).add(name)
            assert param.name not in ("height", "width", "sizes"), f"{name} spells a size another way"
    assert {"export", "eval", "run", "parity", "bench"} <= seen["--size"]
    assert {"run", "eval", "parity", "bench"} <= seen["--threads"]
    assert {"lint", "eval", "run", "parity", "bench", "doctor"} <= seen["--json"]
    assert {"run", "parity"} <= seen["--backend"] and {"train", "eval", "calibrate", "parity", "bench"} <= seen[
        "--data"
    ]


def test_run_accepts_out_as_its_output_spelling():
    opts = next(p for p in get_command(app).commands["run"].params if p.name == "output")
    assert {"--output", "--out", "-o"} <= set(opts.opts) and opts.multiple
