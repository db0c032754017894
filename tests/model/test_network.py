import pytest
import torch
from tiny_model import TINY

from b2v_edge.model import ModelConfig, build_model
from b2v_edge.model.blocks import AffineRegressor, FlowHead


@pytest.mark.parametrize("frames", [3, 5, 7])
@pytest.mark.parametrize("preset", ["lite", "paper"])
def test_output_shapes_odd_sizes(frames, preset):
    model = build_model(preset, frames, **TINY).eval()
    x = torch.rand(2, 3, 37, 50)
    with torch.no_grad():
        y = model(x)
        aux = model(x, aux=True)
    assert y.shape == (2, frames, 3, 37, 50)
    assert [tuple(s.shape[-2:]) for s in aux.scales] == [(2, 2), (3, 4), (5, 7), (10, 13), (19, 25), (37, 50)]
    assert aux.theta_ftn.shape == (2, frames - 1, 5, 2, 3)
    assert aux.theta_itn.shape == (2, frames - 1, 6, 2, 3)
    assert float(y.min()) >= 0 and float(y.max()) <= 1


def test_init_is_identity_everywhere():
    model = build_model("lite", 7, **TINY).eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        aux = model(x, aux=True)
        y = model(x)
    eye = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]])
    assert torch.allclose(aux.theta_ftn, eye.expand_as(aux.theta_ftn))
    assert torch.allclose(aux.theta_itn, eye.expand_as(aux.theta_itn))
    for m in model.modules():
        if isinstance(m, FlowHead):
            assert float(m(torch.rand(1, m.body[0].in_channels, 8, 8)).abs().max()) == 0.0
    # every frame starts as the blurred input: the model learns the difference
    assert torch.allclose(y, x.unsqueeze(1).expand_as(y), atol=1e-6)


def test_gradients_reach_stn_and_flow_heads():
    model = build_model("lite", 3, **TINY)
    x = torch.rand(2, 3, 64, 64)
    # one step so zero-initialised heads become non-zero, then check gradients everywhere
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(2):
        opt.zero_grad()
        aux = model(x, aux=True)
        (aux.scales[-1][:, 0] - torch.rand(2, 3, 64, 64)).abs().mean().backward()
        opt.step()
    stn = [m for m in model.modules() if isinstance(m, AffineRegressor)]
    flows = [m for m in model.modules() if isinstance(m, FlowHead)]
    assert any(float(m.fc.weight.grad.abs().sum()) > 0 for m in stn)
    assert any(float(m.head.weight.grad.abs().sum()) > 0 for m in flows)


def test_native_and_gather_models_agree():
    torch.manual_seed(0)
    model = build_model("lite", 3, **TINY).eval()
    with torch.no_grad():  # perturb so warps are not identities
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
        x = torch.rand(1, 3, 64, 96)
        a = model.set_warp_mode("native")(x)
        b = model.set_warp_mode("gather")(x)
    assert (a - b).abs().max() < 1e-5


def test_config_validation():
    with pytest.raises(ValueError, match="frames"):
        ModelConfig(frames=4)
    with pytest.raises(ValueError, match="enc_channels"):
        ModelConfig(enc_channels=(1, 2, 3))
    with pytest.raises(ValueError, match="preset"):
        build_model("huge")
    with pytest.raises(ValueError, match=r"\[B,3,H,W\]"):
        build_model("lite", 3, **TINY)(torch.rand(1, 4, 32, 32))


def test_config_roundtrip():
    cfg = build_model("lite", 5).cfg
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg


NAF = dict(TINY, block="naf", enc_blocks=(1, 1, 2, 1, 1), mid_blocks=(1, 2, 1, 1, 0))


def test_naf_model_starts_at_blurred_repeated_and_has_naf_blocks():
    from b2v_edge.model.blocks import NAFBlock

    model = build_model("lite", 5, **NAF).eval()
    assert sum(isinstance(m, NAFBlock) for m in model.modules()) == 6 + 5
    x = torch.rand(2, 3, 40, 48)
    with torch.no_grad():
        y = model(x)
    assert y.shape == (2, 5, 3, 40, 48)
    assert torch.allclose(y, x.unsqueeze(1).expand_as(y), atol=1e-6)


@pytest.mark.parametrize("overrides", [TINY, NAF])
def test_forward_middle_is_the_middle_frame_of_forward(overrides):
    model = build_model("lite", 5, **overrides)
    for p in model.parameters():  # move away from the identity init
        p.data.add_(0.05 * torch.randn_like(p))
    x = torch.rand(1, 3, 37, 50)
    with torch.no_grad():
        mid = model.forward_middle(x)
        aux = model(x, aux=True)
    assert len(mid) == 6
    for s in range(6):
        assert torch.allclose(mid[s], aux.scales[s][:, 2], atol=1e-6)


def test_naf_block_gradients_and_validation():
    model = build_model("lite", 3, **NAF)
    model.forward_middle(torch.rand(1, 3, 32, 32))[-1].sum().backward()
    assert all(p.grad is not None for n, p in model.named_parameters() if n.endswith(("beta", "gamma")))
    with pytest.raises(ValueError, match="block must be one of"):
        ModelConfig(block="resnet")
    with pytest.raises(ValueError, match="mid_blocks needs 5 non-negative ints"):
        ModelConfig(mid_blocks=(1, 1))
