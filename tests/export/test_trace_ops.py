"""trace_ops: the opaque grid-sample op equals F.grid_sample and exports to the stock GridSample node."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from b2v_edge.export.trace_ops import TRANSLATIONS, grid_sample_op, tracing_warps
from b2v_edge.model import warp


@pytest.mark.parametrize("padding", ["zeros", "border"])
def test_op_equals_grid_sample(padding):
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 9, 11, generator=gen)
    grid = torch.rand(2, 5, 7, 2, generator=gen) * 2.4 - 1.2  # some samples outside the image
    expected = F.grid_sample(x, grid, mode="bilinear", padding_mode=padding, align_corners=False)
    assert torch.equal(grid_sample_op(x, grid, padding), expected)


def test_fake_gives_the_output_shape():
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        out = grid_sample_op(torch.empty(2, 4, 16, 16), torch.empty(2, 5, 7, 2), "zeros")
    assert tuple(out.shape) == (2, 4, 5, 7)


def test_context_routes_native_warps_and_restores():
    calls = []
    x, theta = torch.rand(1, 2, 8, 8), torch.tensor([[[0.9, 0.1, 0.05], [-0.1, 1.0, 0.0]]])
    reference = warp.affine_warp(x, theta, "native", "border")
    with tracing_warps() as table:
        assert table is TRANSLATIONS and torch.ops.b2v_edge.grid_sample.default in table
        with warp.native_sampler(lambda *a: calls.append(a) or grid_sample_op(*a)):
            inside = warp.affine_warp(x, theta, "native", "border")
    assert len(calls) == 1 and calls[0][2] == "border"
    assert torch.equal(inside, reference)
    assert warp._native_sampler is warp.torch_grid_sample  # restored after both blocks


def test_tracing_warps_enables_both_and_restores():
    with tracing_warps() as table:
        assert table is TRANSLATIONS
        assert warp._native_sampler is grid_sample_op and warp._base_grids == {}
    assert warp._native_sampler is warp.torch_grid_sample and warp._base_grids is None
