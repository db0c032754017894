import pytest
import torch
import torch.nn.functional as F

from b2v_edge.model.warp import affine_grid, affine_warp, flow_warp, grid_sample

torch.manual_seed(0)


@pytest.mark.parametrize("padding", ["zeros", "border"])
def test_gather_equals_native_values_and_grads(padding):
    x = torch.rand(2, 5, 13, 17, dtype=torch.float64, requires_grad=True)
    # coordinates partly outside the image to exercise the padding
    grid = (torch.rand(2, 9, 11, 2, dtype=torch.float64) * 2.6 - 1.3).requires_grad_(True)
    outs = {}
    for mode in ("native", "gather"):
        out = grid_sample(x, grid, mode, padding)
        gx, gg = torch.autograd.grad((out * torch.cos(out)).sum(), (x, grid))
        outs[mode] = (out, gx, gg)
    for a, b in zip(outs["native"], outs["gather"]):
        assert torch.allclose(a, b, atol=1e-5), (a - b).abs().max()


def test_affine_grid_matches_torch():
    theta = torch.tensor([[[0.9, 0.1, 0.05], [-0.2, 1.1, -0.1]]]).repeat(3, 1, 1)
    ours = affine_grid(theta, 7, 9)
    ref = F.affine_grid(theta, (3, 1, 7, 9), align_corners=False)
    assert torch.allclose(ours, ref, atol=1e-6)


@pytest.mark.parametrize("mode", ["native", "gather"])
def test_identity_warps_are_exact(mode):
    x = torch.rand(1, 3, 8, 12)
    eye = torch.tensor([[[1.0, 0, 0], [0, 1.0, 0]]])
    assert torch.allclose(affine_warp(x, eye, mode), x, atol=1e-6)
    assert torch.allclose(flow_warp(x, torch.zeros(1, 2, 8, 12), mode), x, atol=1e-6)


@pytest.mark.parametrize("mode", ["native", "gather"])
def test_flow_is_in_pixels(mode):
    x = torch.arange(20.0).reshape(1, 1, 4, 5)
    flow = torch.zeros(1, 2, 4, 5)
    flow[:, 0] = 1.0  # sample one pixel to the right
    out = flow_warp(x, flow, mode, "border")
    assert torch.allclose(out[..., :-1], x[..., 1:])


def test_gather_float32_equal_to_native():
    x = torch.rand(1, 16, 64, 64)
    theta = torch.tensor([[[1.02, 0.03, 0.04], [-0.02, 0.98, 0.05]]])
    a = affine_warp(x, theta, "native", "border")
    b = affine_warp(x, theta, "gather", "border")
    assert (a - b).abs().max() < 1e-5


@pytest.mark.parametrize(
    "call, msg",
    [
        (lambda: affine_warp(torch.rand(3, 4, 4), torch.zeros(1, 2, 3)), "[B,C,H,W]"),
        (lambda: affine_warp(torch.rand(1, 3, 4, 4), torch.zeros(1, 3, 3)), "[B,2,3]"),
        (lambda: flow_warp(torch.rand(1, 3, 4, 4), torch.zeros(1, 2, 4, 5)), "flow must be"),
        (lambda: grid_sample(torch.rand(1, 3, 4, 4), torch.zeros(1, 2, 2, 2), mode="nearest"), "warp mode"),
        (lambda: grid_sample(torch.rand(1, 3, 4, 4), torch.zeros(1, 2, 2, 2), padding="reflection"), "padding"),
    ],
)
def test_bad_input_messages(call, msg):
    with pytest.raises(ValueError, match=msg.replace("[", r"\[").replace("]", r"\]")):
        call()


def test_shared_base_grids_reuses_per_size_and_forgets():
    from b2v_edge.model import warp

    fresh = warp.base_grid(4, 6, torch.device("cpu"), torch.float32)
    with warp.shared_base_grids():
        a = warp.base_grid(4, 6, torch.device("cpu"), torch.float32)
        assert warp.base_grid(4, 6, torch.device("cpu"), torch.float32) is a
        assert warp.base_grid(6, 4, torch.device("cpu"), torch.float32) is not a
        assert warp.base_grid(4, 6, torch.device("cpu"), torch.float64) is not a
        assert torch.equal(a, fresh)
    assert warp._base_grids is None
    assert warp.base_grid(4, 6, torch.device("cpu"), torch.float32) is not a


def test_native_sampler_restored_after_an_error():
    from b2v_edge.model import warp

    def broken(x, grid, padding):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"), warp.native_sampler(broken):
        warp.grid_sample(torch.rand(1, 1, 4, 4), torch.zeros(1, 2, 2, 2), "native")
    assert warp._native_sampler is warp.torch_grid_sample


TOLERANCE = {torch.float64: dict(atol=1e-10, rtol=1e-8), torch.float32: dict(atol=1e-5, rtol=1e-5)}


@pytest.mark.parametrize("padding", ["zeros", "border"])
def test_gather_warp_passes_gradcheck(padding):
    """Finite differences agree with autograd (sampling points kept away from pixel edges)."""
    from b2v_edge.model.warp import flow_warp

    gen = torch.Generator().manual_seed(1)
    x = torch.rand(1, 2, 5, 6, dtype=torch.float64, generator=gen, requires_grad=True)
    flow = (torch.rand(1, 2, 5, 6, dtype=torch.float64, generator=gen) * 0.6 + 0.2).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, f: flow_warp(a, f, "gather", padding), (x, flow), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("mode", ["native", "gather"])
def test_warp_shared_equals_separate_warps(mode, dtype):
    from b2v_edge.model.warp import affine_grids, affine_warp, flow_grids, flow_warp, warp_shared

    gen = torch.Generator().manual_seed(0)
    x = torch.rand(2, 4, 9, 11, dtype=dtype, generator=gen)
    eye = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]], dtype=dtype)
    theta = eye + 0.2 * torch.randn(2, 3, 2, 3, dtype=dtype, generator=gen)
    flow = 2 * torch.randn(2, 3, 2, 9, 11, dtype=dtype, generator=gen)
    out = warp_shared(x, torch.cat([affine_grids(theta, 9, 11), flow_grids(flow)], dim=1), mode, "border")
    refs = [affine_warp(x, theta[:, k], mode, "border") for k in range(3)]
    refs += [flow_warp(x, flow[:, k], mode, "border") for k in range(3)]
    assert out.shape == (2, 6, 4, 9, 11)
    for k, ref in enumerate(refs):
        torch.testing.assert_close(out[:, k], ref, **TOLERANCE[dtype])
    with pytest.raises(ValueError, match=r"expected grids of shape \[2,K,Ho,Wo,2\]"):
        warp_shared(x, torch.zeros(2, 3, 4, 2), mode)
    with pytest.raises(ValueError, match=r"expected theta of shape \[B,G,2,3\]"):
        affine_grids(theta[:, 0], 9, 11)


def test_docstring_examples_hold():
    import doctest

    import b2v_edge.model.warp as warp_module

    result = doctest.testmod(warp_module)
    assert result.attempted >= 2 and result.failed == 0
