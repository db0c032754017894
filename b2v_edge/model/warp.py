"""Pure warp functions with one ``mode`` switch: ``native`` or ``gather``.

Conventions (kornia style):

* Images / features are ``[B, C, H, W]``.
* ``theta`` is an affine matrix ``[B, 2, 3]`` in **normalised** coordinates with
  ``align_corners=False`` (the PyTorch ``F.affine_grid`` convention): an output pixel at normalised
  ``(x, y, 1)`` samples the input at ``theta @ (x, y, 1)``; x runs from -1 (left edge of the first
  pixel) to +1 (right edge of the last pixel). Identity = ``[[1, 0, 0], [0, 1, 0]]``.
* ``flow`` is ``[B, 2, H, W]`` in **pixels** (channel 0 = x, channel 1 = y): the output pixel
  ``(u, v)`` samples the input at ``(u + flow_x, v + flow_y)`` (backward warping).
* Sampling is bilinear; ``padding`` is ``"zeros"`` or ``"border"`` (as in ``F.grid_sample``).

Modes:

* ``native`` uses ``F.grid_sample`` (exports to ONNX ``GridSample``, TensorRT >= 8.5).
* ``gather`` computes the same bilinear interpolation with floor + ``torch.gather`` (exports to
  ``Floor``/``GatherElements``; no ``GridSample``), for TensorRT < 8.5 (Jetson Nano) and because
  ONNX Runtime's CPU GridSample kernel is slower than the gather form (``bench/`` has the numbers).

The affine sampling grid is built with one MatMul (``[1, H*W, 3] @ [B, 3, 2]``) rather than
``F.affine_grid``: the dynamo exporter decomposes ``affine_grid`` into a broadcast Mul + ReduceSum
over ``[B, H, W, 2, 3]``, which ONNX Runtime runs far slower than one MatMul. Coordinates, indices and interpolation
weights must stay in fp32/int64 in every precision (the fp16 export keeps this subgraph in fp32).
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Dict, Iterator, Literal, Optional, Tuple

import torch
import torch.nn.functional as F

WarpMode = Literal["native", "gather"]
Padding = Literal["zeros", "border"]
WARP_MODES = ("native", "gather")
PADDINGS = ("zeros", "border")


def _check(x: torch.Tensor, mode: str, padding: str) -> None:
    if x.dim() != 4:
        raise ValueError(f"expected x of shape [B,C,H,W], got {tuple(x.shape)}")
    if mode not in WARP_MODES:
        raise ValueError(f"warp mode must be one of {WARP_MODES}, got {mode!r}")
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")


_GridKey = Tuple[str, str, str, str]
_base_grids: Optional[Dict[_GridKey, torch.Tensor]] = None


@contextlib.contextmanager
def _override(name: str, value: Any) -> Iterator[None]:
    """Set the module-level ``name`` to ``value`` inside the block, restore it after (also on error)."""
    state = globals()
    previous, state[name] = state[name], value
    try:
        yield
    finally:
        state[name] = previous


def shared_base_grids() -> "contextlib.AbstractContextManager[None]":
    """Inside the block, warps of the same size reuse one :func:`base_grid` tensor (then forget them).

    For the ONNX exporter: the N=7 model has 96 warps over 6 sizes, and every base grid built under
    symbolic shapes costs the tracer seconds (and the dynamic graph a few Range/Div nodes).
    Sizes are keyed by their text, so symbolic sizes (``4*s39``) match within one trace.
    """
    return _override("_base_grids", {})


def base_grid(h: int, w: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Homogeneous normalised pixel-centre coordinates ``[H*W, 3]`` (x, y, 1), align_corners=False."""
    if _base_grids is None:
        return _make_base_grid(h, w, device, dtype)
    key = (str(h), str(w), str(device), str(dtype))
    if key not in _base_grids:
        _base_grids[key] = _make_base_grid(h, w, device, dtype)
    return _base_grids[key]


def _make_base_grid(h: int, w: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    xs = (torch.arange(w, device=device, dtype=dtype) * 2 + 1) / w - 1
    ys = (torch.arange(h, device=device, dtype=dtype) * 2 + 1) / h - 1
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    ones = torch.ones_like(gx)
    return torch.stack([gx, gy, ones], dim=-1).reshape(h * w, 3)


def affine_grid(theta: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Sampling grid ``[B, H, W, 2]`` for ``theta [B, 2, 3]`` (same values as ``F.affine_grid``)."""
    if theta.dim() != 3 or theta.shape[1:] != (2, 3):
        raise ValueError(f"expected theta of shape [B,2,3], got {tuple(theta.shape)}")
    grid = base_grid(h, w, theta.device, theta.dtype).unsqueeze(0)  # [1, HW, 3]
    out = torch.matmul(grid, theta.transpose(1, 2))  # [B, HW, 2]
    return out.reshape(theta.shape[0], h, w, 2)


def flow_grid(flow: torch.Tensor) -> torch.Tensor:
    """Sampling grid ``[B, H, W, 2]`` for a pixel flow ``[B, 2, H, W]``."""
    if flow.dim() != 4 or flow.shape[1] != 2:
        raise ValueError(f"expected flow of shape [B,2,H,W], got {tuple(flow.shape)}")
    b, _, h, w = flow.shape
    base = base_grid(h, w, flow.device, flow.dtype)[:, :2].reshape(1, h, w, 2)
    scale = torch.tensor([2.0 / w, 2.0 / h], device=flow.device, dtype=flow.dtype)
    return base + flow.permute(0, 2, 3, 1) * scale


def _gather_sample(x: torch.Tensor, grid: torch.Tensor, padding: str) -> torch.Tensor:
    """Bilinear ``grid_sample`` (align_corners=False) with floor + gather; same numerics."""
    b, c, h, w = x.shape
    ho, wo = grid.shape[1], grid.shape[2]
    ix = ((grid[..., 0] + 1) * w - 1) * 0.5  # [B, Ho, Wo] pixel coordinates
    iy = ((grid[..., 1] + 1) * h - 1) * 0.5
    if padding == "border":
        ix = ix.clamp(0, w - 1)
        iy = iy.clamp(0, h - 1)
    x0f = torch.floor(ix)
    y0f = torch.floor(iy)
    wx1 = ix - x0f
    wy1 = iy - y0f
    wx0 = 1 - wx1
    wy0 = 1 - wy1
    x0 = x0f.to(torch.int64)
    y0 = y0f.to(torch.int64)
    flat = x.reshape(b, c, h * w)
    out = x.new_zeros(b, c, ho * wo)
    for dy, wy in ((0, wy0), (1, wy1)):
        for dx, wx in ((0, wx0), (1, wx1)):
            xi = x0 + dx
            yi = y0 + dy
            weight = wx * wy
            if padding == "zeros":
                valid = (xi >= 0) & (xi <= w - 1) & (yi >= 0) & (yi <= h - 1)
                weight = weight * valid.to(weight.dtype)
            idx = yi.clamp(0, h - 1) * w + xi.clamp(0, w - 1)  # int64: never fp16 (1280x720 > 65504)
            idx = idx.reshape(b, 1, ho * wo).expand(b, c, ho * wo)
            out = out + torch.gather(flat, 2, idx) * weight.reshape(b, 1, ho * wo)
    return out.reshape(b, c, ho, wo)


def torch_grid_sample(x: torch.Tensor, grid: torch.Tensor, padding: str) -> torch.Tensor:
    """The default ``native`` sampler: bilinear ``F.grid_sample``, align_corners=False."""
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding, align_corners=False)


NativeSampler = Callable[[torch.Tensor, torch.Tensor, str], torch.Tensor]
_native_sampler: NativeSampler = torch_grid_sample


def native_sampler(fn: NativeSampler) -> "contextlib.AbstractContextManager[None]":
    """Route ``native`` sampling through ``fn(x, grid, padding)`` inside the block (then restore).

    For the ONNX exporter only: it swaps in an opaque op with the same numerics that exports to the
    same ``GridSample`` node but is not decomposed while tracing (see ``b2v_edge.export.trace_ops``).
    """
    return _override("_native_sampler", fn)


def grid_sample(x: torch.Tensor, grid: torch.Tensor, mode: str = "native", padding: str = "zeros") -> torch.Tensor:
    """Bilinear sampling of ``x`` at normalised grid points (align_corners=False).

    Args:
        x: input ``[B, C, H, W]``.
        grid: sampling points ``[B, Ho, Wo, 2]``, (x, y) in [-1, 1] (pixel-edge convention); points
            outside read zeros or the border pixel, per ``padding``.
        mode: ``native`` (``F.grid_sample``) or ``gather`` (floor + gather; equal values).
        padding: ``zeros`` or ``border``.

    Returns:
        ``[B, C, Ho, Wo]``, same dtype as ``x``.

    Raises:
        ValueError: a shape, ``mode`` or ``padding`` outside the contract (expected vs actual shown).
    """
    _check(x, mode, padding)
    if grid.dim() != 4 or grid.shape[-1] != 2 or grid.shape[0] != x.shape[0]:
        raise ValueError(f"expected grid of shape [{x.shape[0]},Ho,Wo,2], got {tuple(grid.shape)}")
    if mode == "native":
        return _native_sampler(x, grid, padding)
    return _gather_sample(x, grid, padding)


def affine_warp(x: torch.Tensor, theta: torch.Tensor, mode: str = "native", padding: str = "zeros") -> torch.Tensor:
    """Warp ``x`` by a normalised affine matrix per sample (the output keeps the input size).

    Args:
        x: input ``[B, C, H, W]``.
        theta: ``[B, 2, 3]``; output pixel at normalised ``(x, y)`` samples the input at
            ``theta @ (x, y, 1)``. Identity = ``[[1, 0, 0], [0, 1, 0]]``.
        mode: ``native`` or ``gather``.
        padding: ``zeros`` or ``border``.

    Returns:
        ``[B, C, H, W]``.

    Raises:
        ValueError: shapes disagree, or an unknown ``mode`` / ``padding``.

    Example:
        >>> x = torch.rand(1, 3, 4, 4)
        >>> identity = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
        >>> torch.allclose(affine_warp(x, identity, "gather"), x, atol=1e-6)
        True
    """
    _check(x, mode, padding)
    if theta.shape[0] != x.shape[0]:
        raise ValueError(f"theta batch {theta.shape[0]} != x batch {x.shape[0]}")
    return grid_sample(x, affine_grid(theta, x.shape[2], x.shape[3]), mode, padding)


def flow_warp(x: torch.Tensor, flow: torch.Tensor, mode: str = "native", padding: str = "zeros") -> torch.Tensor:
    """Backward-warp ``x`` by a per-pixel flow in pixels.

    Args:
        x: input ``[B, C, H, W]``.
        flow: ``[B, 2, H, W]``, channel 0 = x, channel 1 = y: output pixel ``(u, v)`` samples the input
            at ``(u + flow_x, v + flow_y)``.
        mode: ``native`` or ``gather``.
        padding: ``zeros`` or ``border``.

    Returns:
        ``[B, C, H, W]``.

    Raises:
        ValueError: shapes disagree, or an unknown ``mode`` / ``padding``.

    Example:
        >>> x = torch.arange(4.0).reshape(1, 1, 1, 4)
        >>> right = torch.zeros(1, 2, 1, 4); right[:, 0] = 1.0  # read one pixel to the right
        >>> flow_warp(x, right, padding="border").flatten().tolist()
        [1.0, 2.0, 3.0, 3.0]
    """
    _check(x, mode, padding)
    if flow.shape[0] != x.shape[0] or flow.shape[2:] != x.shape[2:]:
        raise ValueError(
            f"flow must be [B,2,H,W] = [{x.shape[0]},2,{x.shape[2]},{x.shape[3]}], got {tuple(flow.shape)}"
        )
    return grid_sample(x, flow_grid(flow), mode, padding)


# ---- several warps of one shared input as one sampling call (frame-batched decoders) -------------
def affine_grids(theta: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Sampling grids ``[B, G, H, W, 2]`` for G affine matrices per sample, ``theta [B, G, 2, 3]``."""
    if theta.dim() != 4 or theta.shape[2:] != (2, 3):
        raise ValueError(f"expected theta of shape [B,G,2,3], got {tuple(theta.shape)}")
    b, g = theta.shape[:2]
    grid = base_grid(h, w, theta.device, theta.dtype).unsqueeze(0)  # [1, HW, 3]
    out = torch.matmul(grid, theta.reshape(b * g, 2, 3).transpose(1, 2))  # [B*G, HW, 2]
    return out.reshape(b, g, h, w, 2)


def flow_grids(flow: torch.Tensor) -> torch.Tensor:
    """Sampling grids ``[B, G, H, W, 2]`` for G pixel flows per sample, ``flow [B, G, 2, H, W]``."""
    if flow.dim() != 5 or flow.shape[2] != 2:
        raise ValueError(f"expected flow of shape [B,G,2,H,W], got {tuple(flow.shape)}")
    b, g, _, h, w = flow.shape
    base = base_grid(h, w, flow.device, flow.dtype)[:, :2].reshape(1, 1, h, w, 2)
    scale = torch.tensor([2.0 / w, 2.0 / h], device=flow.device, dtype=flow.dtype)
    return base + flow.permute(0, 1, 3, 4, 2) * scale


def warp_shared(x: torch.Tensor, grids: torch.Tensor, mode: str = "native", padding: str = "zeros") -> torch.Tensor:
    """Sample one input at K grids per sample in a single sampling call.

    Args:
        x: the shared input ``[B, C, H, W]``.
        grids: ``[B, K, Ho, Wo, 2]`` normalised sampling grids (align_corners=False), e.g. from
            :func:`affine_grids` / :func:`flow_grids`.
        mode: ``native`` or ``gather``.
        padding: ``zeros`` or ``border``.

    Returns:
        ``[B, K, C, Ho, Wo]``: ``out[:, k]`` equals ``grid_sample(x, grids[:, k])``. The K grids are
        stacked along the output height, so the exported graph has one GridSample (or one gather
        warp) however many frames are decoded.
    """
    _check(x, mode, padding)
    if grids.dim() != 5 or grids.shape[-1] != 2 or grids.shape[0] != x.shape[0]:
        raise ValueError(f"expected grids of shape [{x.shape[0]},K,Ho,Wo,2], got {tuple(grids.shape)}")
    b, k, ho, wo, _ = grids.shape
    out = grid_sample(x, grids.reshape(b, k * ho, wo, 2), mode, padding)  # [B, C, K*Ho, Wo]
    return out.reshape(b, x.shape[1], k, ho, wo).permute(0, 2, 1, 3, 4)
