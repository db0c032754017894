import pytest
import torch
from tiny_model import TINY

from b2v_edge.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from b2v_edge.model import build_model


def test_roundtrip(tmp_path):
    model = build_model("lite", 3, **TINY)
    path = save_checkpoint(tmp_path / "m.pt", model, {"note": "x"}, {"step": 3})
    ck = load_checkpoint(path, with_train_state=True)
    assert ck.metadata["note"] == "x" and ck.train_state["step"] == 3
    assert ck.config == model.cfg
    for a, b in zip(model.state_dict().values(), ck.model.state_dict().values()):
        assert torch.equal(a, b)
    assert not ck.model.training
    assert not list(tmp_path.glob(".*tmp"))  # atomic write leaves no temp files


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pt")


def test_corrupt_file(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(bad)


def test_foreign_file(tmp_path):
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(CheckpointError, match="format_version"):
        load_checkpoint(other)


def test_mismatched_weights(tmp_path):
    model = build_model("lite", 3, **TINY)
    path = save_checkpoint(tmp_path / "m.pt", model)
    payload = torch.load(path, weights_only=True)
    payload["config"]["frames"] = 5
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="do not match"):
        load_checkpoint(path)


def test_strip_train_state(tmp_path):
    from b2v_edge.checkpoint import strip_train_state

    model = build_model("lite", 3, **TINY)
    src = save_checkpoint(tmp_path / "full.pt", model, {"trained_steps": 7}, {"optimizer": {"big": torch.zeros(1000)}})
    dst = strip_train_state(src, tmp_path / "demo.pt", note="demo")
    ck = load_checkpoint(dst, with_train_state=True)
    assert ck.train_state is None and ck.metadata["note"] == "demo" and ck.metadata["trained_steps"] == 7
    assert dst.stat().st_size < src.stat().st_size


def test_demo_checkpoint_ships_and_loads():
    from b2v_edge.checkpoint import demo_checkpoint_path

    path = demo_checkpoint_path()
    assert path.exists(), "the demo checkpoint must ship inside the package"
    assert path.stat().st_size <= 10 * 1024 * 1024
    ck = load_checkpoint(None)
    assert ck.config.preset == "lite" and ck.config.frames == 7


def test_demo_model_keeps_the_edge_budget():
    """The shipped demo costs at most 3 GFLOPs per 256x256 input at N=7 (torch.utils.flop_counter)."""
    from b2v_edge.verify.bench_measure import model_gflops

    model = load_checkpoint(None).model.eval()
    assert 1.0 < model_gflops(model, (256, 256)) <= 3.0


def test_demo_layer_norms_stay_in_fp16_range():
    """fp16 engines run the demo's channel LayerNorms (ReduceMean/Sub/Pow/Sqrt/Div) in fp16: on held-out
    blur their inputs stay within +-64 of the mean, so the variance stays far below fp16's 65 504."""
    from b2v_edge.data.synthetic import SyntheticBlur
    from b2v_edge.model.blocks import LayerNorm2d

    model = load_checkpoint(None).model.eval()
    spread = []

    def record(_module, inputs, _output):
        x = inputs[0]
        spread.append(float((x - x.mean(dim=1, keepdim=True)).abs().max()))

    norms = [m for m in model.modules() if isinstance(m, LayerNorm2d)]
    assert norms, "the demo has no LayerNorm2d: this test guards the NAF blocks"
    for norm in norms:
        norm.register_forward_hook(record)
    source = SyntheticBlur(frames=7, size=(256, 256), split="test", seed=0)
    with torch.no_grad():
        for i in range(3):
            model(torch.from_numpy(source[i].blurred).permute(2, 0, 1)[None].float())
    assert len(spread) == 3 * len(norms) and 0.1 < max(spread) < 64


def test_refused_pickles_name_the_real_cause_not_the_weights_only_advice(tmp_path):
    import os
    import pickle

    class Evil:
        def __reduce__(self):
            return (os.system, ("true",))

    torch.save({"format_version": 2, "x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="unsupported GLOBAL posix.system") as exc:
        load_checkpoint(tmp_path / "evil.pt")
    assert "weights_only" not in str(exc.value) and "nothing in it was run" in str(exc.value)
    (tmp_path / "raw.pt").write_bytes(pickle.dumps({"x": Evil()}))
    with pytest.raises(CheckpointError, match="Unsupported operand"):
        load_checkpoint(tmp_path / "raw.pt")
    torch.save({"format_version": 2, "config": {}}, tmp_path / "nostate.pt")
    with pytest.raises(CheckpointError, match="has no state_dict"):
        load_checkpoint(tmp_path / "nostate.pt")
