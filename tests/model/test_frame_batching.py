"""The frame-batched non-middle decoder equals G independent per-frame decoders (values and gradients)."""

from __future__ import annotations

from typing import Dict

import pytest
import torch
from tiny_model import TINY

from b2v_edge.checkpoint import convert_v1_state_dict
from b2v_edge.model import build_model
from b2v_edge.model.network import FrameDecoder

TWO_DENSE = dict(TINY, dense_layers=(2, 1, 1, 1, 1))  # two dense convs in the first block
TOL = {torch.float32: 1e-5, torch.float64: 1e-10}


def _split(batched: Dict[str, torch.Tensor], frames: int, k: int, single: Dict[str, torch.Tensor]):
    """Frame k's weights of a batched decoder, shaped like a frames=1 decoder's state_dict."""
    out = {}
    for name, ref in single.items():
        chunk = batched[name].shape[0] // frames
        out[name] = batched[name][k * chunk : (k + 1) * chunk].reshape(ref.shape)
    return out


def _perturbed(model):
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return model


def _per_frame_decoders(model):
    g = model.cfg.frames - 1
    decoders = []
    for k in range(g):
        dec = FrameDecoder(model.cfg, middle=False, frames=1).to(next(model.parameters()).dtype)
        dec.load_state_dict(_split(model.others.state_dict(), g, k, dec.state_dict()))
        decoders.append(dec)
    return decoders


@pytest.mark.parametrize("frames", [3, 5, 7])
@pytest.mark.parametrize("mode", ["native", "gather"])
@pytest.mark.parametrize("preset", ["lite", "paper"])
def test_batched_decoder_equals_per_frame_decoders(frames, mode, preset):
    model = _perturbed(build_model(preset, frames, warp_mode=mode, **TWO_DENSE)).eval()
    x = torch.rand(2, 3, 37, 45)
    with torch.no_grad():
        pyramid, encs = model._encode(x)
        mids, _, _ = model.middle(encs, pyramid)
        images, t_ftn, t_itn = model.others(encs, pyramid, mids)
        for k, dec in enumerate(_per_frame_decoders(model)):
            ref_images, ref_ftn, ref_itn = dec(encs, pyramid, mids)
            for got, ref in zip(images, ref_images):
                assert torch.allclose(got[:, 3 * k : 3 * k + 3], ref, atol=TOL[torch.float32])
            for got, ref in zip(t_ftn + t_itn, ref_ftn + ref_itn):
                assert torch.allclose(got[:, k], ref, atol=TOL[torch.float32])


@pytest.mark.parametrize("mode", ["native", "gather"])
def test_batched_gradients_equal_per_frame_gradients(mode):
    model = _perturbed(build_model("lite", 5, warp_mode=mode, **TWO_DENSE)).double()
    x = torch.rand(1, 3, 32, 40, dtype=torch.float64)
    pyramid, encs = model._encode(x)
    mids, _, _ = model.middle(encs, pyramid)
    mids = [m.detach() for m in mids]
    encs = [e.detach() for e in encs]
    pyramid = [p.detach() for p in pyramid]
    images, t_ftn, t_itn = model.others(encs, pyramid, mids)
    (sum(i.pow(2).sum() for i in images) + sum(t.sum() for t in t_ftn + t_itn)).backward()
    g = model.cfg.frames - 1
    for k, dec in enumerate(_per_frame_decoders(model)):
        ref_images, ref_ftn, ref_itn = dec(encs, pyramid, mids)
        (sum(i.pow(2).sum() for i in ref_images) + sum(t.sum() for t in ref_ftn + ref_itn)).backward()
        batched_grads = {n: p.grad for n, p in model.others.named_parameters()}
        single = {n: p.grad for n, p in dec.named_parameters()}
        for name, grad in _split(batched_grads, g, k, single).items():
            assert torch.allclose(grad, single[name], atol=TOL[torch.float64]), name


def test_format_1_weights_convert_to_the_batched_layout():
    model = _perturbed(build_model("lite", 5, **TWO_DENSE))
    g = model.cfg.frames - 1
    old = {k: v for k, v in model.state_dict().items() if not k.startswith("others.")}
    for k, dec in enumerate(_per_frame_decoders(model)):
        old.update({f"others.{k}.{n}": v for n, v in dec.state_dict().items()})
    assert any(n.endswith("stn.fc.weight") and v.dim() == 2 for n, v in old.items())  # Linear in format 1
    new = convert_v1_state_dict(old, model.state_dict())
    assert set(new) == set(model.state_dict())
    assert all(torch.equal(new[n], v) for n, v in model.state_dict().items())
    assert g == 4


def test_one_warp_call_per_level(monkeypatch):
    from b2v_edge.model import warp

    calls = []
    real = warp.grid_sample
    monkeypatch.setattr(warp, "grid_sample", lambda *a, **k: calls.append(1) or real(*a, **k))
    model = build_model("lite", 7, **TWO_DENSE).eval()
    with torch.no_grad():
        model(torch.rand(1, 3, 32, 32))
    assert len(calls) == 5 + 6  # one per FTN level (STN + flow of every frame) and one per ITN scale
