import json

from tiny_model import TINY
from typer.testing import CliRunner

from b2v_edge.checkpoint import save_checkpoint
from b2v_edge.cli.main import app
from b2v_edge.model import build_model

runner = CliRunner()


def test_train_rejects_bad_crop_with_one_line_error(tmp_path):
    res = runner.invoke(app, ["train", "--crop", "50", "--out", str(tmp_path / "r")])
    assert res.exit_code == 2
    assert "multiple of 32" in res.output and len(res.output.strip().splitlines()) == 1


def test_train_rejects_bad_middle_weight(tmp_path):
    res = runner.invoke(app, ["train", "--middle-weight", "0", "--out", str(tmp_path / "r")])
    assert res.exit_code == 2
    assert "--middle-weight must be > 0" in res.output and len(res.output.strip().splitlines()) == 1


def test_train_rejects_unknown_data(tmp_path):
    res = runner.invoke(
        app,
        [
            "train",
            "--data",
            "imagenet",
            "--out",
            str(tmp_path / "r"),
            "--epochs",
            "1",
            "--epoch-steps",
            "1",
            "--crop",
            "32",
            "--batch",
            "1",
        ],
    )
    assert res.exit_code == 2 and "synthetic" in res.output


def test_eval_json_on_tiny_checkpoint(tmp_path):
    ck = save_checkpoint(tmp_path / "m.pt", build_model("lite", 3, **TINY))
    res = runner.invoke(app, ["eval", "--checkpoint", str(ck), "--samples", "3", "--size", "64", "--json", "--no-ssim"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["frames"] == 3 and data["count"] == 3 and len(data["psnr"]) == 3
    # an untrained model starts at the blurred-repeated baseline (identity init)
    assert abs(data["middle_gain_db"]) < 0.05


def test_eval_table_and_missing_checkpoint(tmp_path):
    ck = save_checkpoint(tmp_path / "m.pt", build_model("lite", 3, **TINY))
    res = runner.invoke(app, ["eval", "--checkpoint", str(ck), "--samples", "2", "--size", "64"])
    assert res.exit_code == 0 and "blurred repeated" in res.output and "gain" in res.output
    res = runner.invoke(app, ["eval", "--checkpoint", str(tmp_path / "nope.pt")])
    assert res.exit_code == 2 and "does not exist" in res.output


def test_resume_without_last_pt_says_it_starts_from_step_0(tmp_path):
    blocker = tmp_path / "typo"
    blocker.write_text("a file, not a run directory")
    result = runner.invoke(app, ["train", "--resume", "--out", str(blocker)])
    assert "notice: --resume: no last.pt in" in result.stdout and "starting from step 0" in result.stdout
    assert result.exit_code == 2 and "not a directory" in result.stderr  # then the unusable --out stops it
