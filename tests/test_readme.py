"""README.md: every command in its code blocks parses as written; those that fit CI time run and finish.

* Every ``b2v-edge ...`` line of a ``bash`` block is parsed by the real CLI (unknown flags, bad
  values and removed spellings fail here).
* ``b2v-edge run`` examples that need no camera or deploy dir run in a scratch folder (with a
  ``clip.mp4`` present) and must finish by themselves: endless sources need ``--max-frames``. To fit
  CI time their ``--max-frames`` is capped at :data:`MAX_FRAMES` and fixed MJPEG ports become port 0.
* The slow test runs the deploy chain (export → calibrate → build-engine → parity → bench) as written.
* The install commands: the CPU-torch step uses PyTorch's CPU index and leaves torch to it.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import List

import pytest
from packaging.requirements import Requirement
from typer.main import get_command
from typer.testing import CliRunner

from b2v_edge.cli.main import app

tomllib = pytest.importorskip("tomllib")
ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
MAX_FRAMES = 8
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def shell_commands(text: str = README) -> List[List[str]]:
    """Every command of the README's ``bash`` blocks as argv (continuations joined, ``&&`` split)."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            argv = shlex.split(line, comments=True)
            while argv:
                cut = argv.index("&&") if "&&" in argv else len(argv)
                commands.append(argv[:cut])
                argv = argv[cut + 1 :]
    return [c for c in commands if c]


B2V = [c[1:] for c in shell_commands() if c[0] == "b2v-edge"]


def _option(args: List[str], name: str) -> str:
    return args[args.index(name) + 1] if name in args else ""


def runnable_here(args: List[str]) -> bool:
    """A ``run`` example that needs neither a camera nor an exported deploy dir."""
    source = _option(args, "--source")
    needs_device = "--camera" in args or source.startswith(("csi://", "rtsp://")) or source.isdigit()
    return args[0] == "run" and "--model" not in args and not needs_device


def test_the_readme_has_commands_of_every_kind():
    assert len(B2V) >= 20 and {"run", "export", "calibrate", "build-engine", "parity", "bench", "train"} <= {
        a[0] for a in B2V
    }


@pytest.mark.parametrize("args", B2V, ids=[" ".join(a)[:60] for a in B2V])
def test_every_readme_command_parses(args):
    group = get_command(app)
    assert args[0] in group.commands, f"unknown command {args[0]}"
    command = group.commands[args[0]]
    with command.make_context(args[0], list(args[1:])):  # raises a UsageError on any bad flag or value
        pass


@pytest.mark.parametrize("args", [a for a in B2V if a[0] == "run"], ids=lambda a: " ".join(a)[:60])
def test_synthetic_run_examples_end_by_themselves(args):
    source = _option(args, "--source") or "synthetic"
    if source.startswith("synthetic") and "--model" not in args:
        assert "--max-frames" in args, "the synthetic source is endless: give the example --max-frames"


def _fit_ci(args: List[str]) -> List[str]:
    out = list(args)
    if "--max-frames" in out:
        i = out.index("--max-frames") + 1
        out[i] = str(min(int(out[i]), MAX_FRAMES))
    return [re.sub(r"(127\.0\.0\.1):\d+", r"\1:0", a) for a in out]


RUNNABLE = [a for a in B2V if runnable_here(a)]


@pytest.mark.parametrize("args", RUNNABLE, ids=[" ".join(a)[:60] for a in RUNNABLE])
def test_runnable_readme_examples_finish(args, tmp_path, monkeypatch, runtime_models):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    runtime_models.write_video(tmp_path / "clip.mp4", frames=4, h=96, w=160)
    result = CliRunner().invoke(app, _fit_ci(args))
    assert result.exit_code == 0, result.output
    assert "stopped" in result.output and "b2v-edge run" in result.output
    if "out.mp4" in " ".join(args):
        assert (tmp_path / "out.mp4").exists()


def test_cpu_torch_install_uses_pytorchs_cpu_index():
    """Setup step 2: torch from PyTorch's CPU index first; then the project's own install keeps it."""
    steps = [c for c in shell_commands() if c[:2] == ["pip", "install"]]
    torch_step = next(c for c in steps if "torch" in c[2:])
    assert torch_step == ["pip", "install", "torch", "--index-url", CPU_INDEX]
    after = steps[steps.index(torch_step) + 1]
    assert after[2:] == ["-e", ".[dev]"]  # no constraint file: the CPU build just installed satisfies it
    optional = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for extra in ("train", "export"):
        torch_req = next(Requirement(r) for r in optional[extra] if r.startswith("torch"))
        assert torch_req.specifier.contains("2.13.0+cpu"), (extra, torch_req)  # the CPU index's local version
    assert any(c[:4] == ["pip", "install", "-e", "."] for c in steps)  # the torch-free runtime install


@pytest.mark.slow
def test_deploy_chain_runs_as_written(tmp_path, monkeypatch):
    """The README's deploy block in order (minutes on 2 cores): export, calibrate, build-engine, parity, bench."""
    monkeypatch.chdir(tmp_path)
    chain = [a for a in B2V if a[0] in ("export", "calibrate", "parity", "bench") and "deploy" in " ".join(a)]
    for args in chain:
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, (args, result.output)
    result = CliRunner().invoke(app, ["build-engine", "deploy", "--precision", "fp16"])
    assert result.exit_code == 3 and "trtexec" in result.output  # no TensorRT here: the device command


def _training_script(name: str):
    """``docs/training/<name>.py`` imported as a module (the docs scripts are not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "docs" / "training" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_demo_tables_are_what_the_committed_evaluations_give():
    """README's demo-model tables equal ``docs/training/demo_tables.py``'s rendering of the eval JSON."""
    module = _training_script("demo_tables")
    entries = json.loads((module.EVAL / "eval.json").read_text())
    block = module.render(entries)
    assert module.BEGIN in README and module.END in README
    assert README.split(module.BEGIN)[1].split(module.END)[0].strip() == block.strip()
    assert "blurred input repeated" in block and "| photo |" in block


def test_a_side_table_of_the_demo_tables_has_its_frame_table_only():
    """Entries naming a ``table`` (an ablation) render apart, with no per-photo or per-blur table."""
    module = _training_script("demo_tables")
    entries = json.loads((module.EVAL / "eval.json").read_text())
    main = [e for e in entries if "table" not in e]
    side = [e for e in entries if "table" in e]
    assert main and side
    block = module.render(side)
    assert block.startswith(f"**{side[0]['table']}**")
    assert "| photo |" not in block and "| blur size |" not in block
    assert all(f"| gain, {e['model']} (dB) |" in block for e in side)
    assert module.render(main).count("| photo |") == len({e["data"] for e in main})


def test_the_arms_table_is_what_the_committed_histories_give():
    """docs/training/arms.md equals ``plot_arms.py``'s table of the committed learning curves."""
    module = _training_script("plot_arms")
    arms, histories = module.load()
    assert set(histories) == {arm["name"] for arm in arms}  # every arm listed has its curve committed
    assert (module.HERE / "arms.md").read_text(encoding="utf-8") == module.table(arms, histories)


def test_the_stages_table_is_what_the_committed_histories_give():
    """docs/training/stages.md equals ``plot_stages.py``'s table; every chain starts on a committed arm."""
    module = _training_script("plot_stages")
    runs, histories = module.load()
    assert (module.HERE / "stages.md").read_text(encoding="utf-8") == module.table(runs, histories)
    arms = {arm["name"] for arm in json.loads((ROOT / "docs" / "training" / "arms" / "arms.json").read_text())}
    assert {module.root(runs, run["name"]) for run in runs} <= arms
    start = module.offsets(runs, histories)
    for run in runs:
        after = run["after"]
        assert start[run["name"]] == (start[after] + histories[after][-1]["step"] if after in histories else 0)


def test_the_stages_curves_place_a_run_where_the_run_it_continues_ended():
    module = _training_script("plot_stages")
    runs = [
        {"name": "a", "after": "arm"},
        {"name": "b", "after": "a"},
        {"name": "c", "after": "b"},
    ]
    histories = {name: [{"step": 250}, {"step": steps}] for name, steps in (("a", 3000), ("b", 1000), ("c", 500))}
    assert module.offsets(runs, histories) == {"a": 0, "b": 3000, "c": 4000}
    assert module.root(runs, "c") == "arm"
    entry = {"psnr": [21.0, 22.0, 25.5], "baseline_psnr": [20.0, 21.0, 24.0]}
    assert module.middle_gain(entry) == 1.0 and module.ends_gain(entry) == 1.25


def test_resume_checkpoints_continue_the_committed_curves():
    """Each ``docs/training/arms/resume/<arm>.pt`` is that arm's run at the last step of its committed curve,
    with its training state (``--resume`` continues it) and the model its command asks for."""
    from b2v_edge.checkpoint import load_checkpoint

    arms_dir = ROOT / "docs" / "training" / "arms"
    commands = {arm["name"]: arm["command"] for arm in json.loads((arms_dir / "arms.json").read_text())}
    resumes = sorted((arms_dir / "resume").glob("*.pt"))
    assert resumes, "no resume checkpoint committed"
    for path in resumes:
        ckpt = load_checkpoint(path, with_train_state=True)
        history = json.loads((arms_dir / f"{path.stem}.history.json").read_text())
        state = ckpt.train_state
        assert state["step"] == history[-1]["step"] and state["history"] == history
        flags = dict(re.findall(r"--(enc-blocks|mid-blocks|block) (\S+)", commands[path.stem]))
        cfg = ckpt.config
        assert cfg.block == flags["block"] and ",".join(map(str, cfg.enc_blocks)) == flags["enc-blocks"]
        assert ",".join(map(str, cfg.mid_blocks)) == flags["mid-blocks"]


PRESET_ROW = re.compile(r"^\| `(\w+)`(?:, `([^`]*)`)?([^|]*)\| ([\d.]+) M \| ([\d.]+) \|$", flags=re.M)


def _model_kwargs(flags: str) -> dict:
    """``--block naf --enc-blocks 1,2 ...`` -> build_model keyword arguments, parsed as ``train`` parses them."""
    from b2v_edge.cli.train import _model_overrides

    given = dict(zip(*[iter(shlex.split(flags))] * 2))
    return _model_overrides(given.get("--block"), given.get("--enc-blocks"), given.get("--mid-blocks"))


def _same(value: float, text: str) -> bool:
    decimals = len(text.split(".")[1]) if "." in text else 0
    return f"{value:.{decimals}f}" == text


def test_the_preset_table_is_what_the_models_count():
    """The model table's parameter and GFLOP counts (256x256, N=7) equal the built models', and the
    row marked as the demo has the shipped checkpoint's architecture."""
    from b2v_edge.checkpoint import load_checkpoint
    from b2v_edge.model import build_model
    from b2v_edge.verify.bench_measure import model_gflops

    rows = PRESET_ROW.findall(README)
    assert {r[0] for r in rows} == {"lite", "paper"}, rows
    for preset, flags, _, params, gflops in rows:
        model = build_model(preset, 7, **_model_kwargs(flags)).eval()
        count = sum(p.numel() for p in model.parameters()) / 1e6
        assert _same(count, params) and _same(model_gflops(model, (256, 256)), gflops), (preset, flags)
    demo = [(preset, flags) for preset, flags, label, _, _ in rows if "the demo" in label]
    assert len(demo) == 1
    assert build_model(demo[0][0], 7, **_model_kwargs(demo[0][1])).cfg == load_checkpoint(None).config
