"""Building blocks of the blur-to-video network (section 4 of Argaw et al., CVPR-W 2021).

All blocks take and return ``[B, C, H, W]`` tensors. Kernel sizes are not given in the paper's
surviving text; we use 3x3 convolutions and 4x4 stride-2 transposed convolutions (exact 2x
upsampling without checkerboard-prone odd kernels) and LeakyReLU(0.1).

Frame batching: the non-middle frames are decoded by one set of modules with ``frames = G > 1``.
Their tensors use the *frame-major channel layout* ``[B, G*C, H, W]``: channels ``k*C .. (k+1)*C``
belong to frame k, so a grouped convolution (``groups=G``) is G independent convolutions with their
own weights, and ``x.view(B*G, C, H, W)`` is the same memory with frames folded into the batch.
A grouped layer's weight is the per-frame weights concatenated along dim 0 (see
``b2v_edge.checkpoint`` for the conversion of per-frame checkpoints). Inputs shared by all frames
(encoder features, middle images) enter through an ungrouped first layer or :func:`per_frame`.
"""

from __future__ import annotations

from typing import List, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .warp import affine_grids, affine_warp, flow_grids, flow_warp, warp_shared

NEG_SLOPE = 0.1


def per_frame(x: torch.Tensor, frames: int) -> torch.Tensor:
    """A tensor shared by all frames, repeated into the frame-major layout: ``[B,C,H,W] -> [B,G*C,H,W]``."""
    return x if frames == 1 else x.repeat(1, frames, 1, 1)


def frame_cat(parts: Sequence[torch.Tensor], frames: int) -> torch.Tensor:
    """Concatenate frame-major tensors per frame: ``[B,G*C_i,H,W]`` -> ``[B,G*sum(C_i),H,W]``."""
    if frames == 1:
        return torch.cat(list(parts), dim=1)
    b, _, h, w = parts[0].shape
    return torch.cat([p.reshape(b, frames, -1, h, w) for p in parts], dim=2).reshape(b, -1, h, w)


def conv(
    in_ch: int, out_ch: int, stride: int = 1, dilation: int = 1, act: bool = True, groups: int = 1
) -> nn.Sequential:
    """3x3 convolution (+ LeakyReLU) with 'same' padding for stride 1.

    Args:
        in_ch: input channels (all groups).
        out_ch: output channels (all groups).
        stride: 1 or 2.
        dilation: dilation of the 3x3 kernel.
        act: append LeakyReLU(0.1).
        groups: independent convolutions (frames decoded together).
    """
    layers: List[nn.Module] = [nn.Conv2d(in_ch, out_ch, 3, stride, padding=dilation, dilation=dilation, groups=groups)]
    if act:
        layers.append(nn.LeakyReLU(NEG_SLOPE, inplace=True))
    return nn.Sequential(*layers)


def upconv(in_ch: int, out_ch: int, act: bool = True, kernel: int = 4, groups: int = 1) -> nn.Sequential:
    """Transposed stride-2 convolution ``[B,in,H,W] -> [B,out,2H,2W]``; kernel 4 (pad 1) or 2 (pad 0)."""
    if kernel not in (2, 4):
        raise ValueError(f"upconv kernel must be 2 or 4, got {kernel}")
    layers: List[nn.Module] = [nn.ConvTranspose2d(in_ch, out_ch, kernel, 2, padding=(kernel - 2) // 2, groups=groups)]
    if act:
        layers.append(nn.LeakyReLU(NEG_SLOPE, inplace=True))
    return nn.Sequential(*layers)


def zero_conv(in_ch: int, out_ch: int, groups: int = 1) -> nn.Conv2d:
    """3x3 convolution initialised to output zeros (image/flow heads start as identity)."""
    layer = nn.Conv2d(in_ch, out_ch, 3, 1, 1, groups=groups)
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class EncoderBlock(nn.Sequential):
    """Two 3x3 convs, stride 2 then 1: ``[B,in,H,W] -> [B,out,H/2,W/2]``."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__(conv(in_ch, out_ch, stride=2), conv(out_ch, out_ch))


class DenseBlock(nn.Module):
    """``layers`` densely connected 3x3 convs, fused to ``out_ch`` by a 1x1 conv.

    Args:
        in_ch: input channels.
        growth: channels added by each conv.
        layers: number of densely connected convs (5 in the paper).
        out_ch: output feature channels.
        squeeze: if > 0, a 1x1 conv first squeezes the input to this many channels (edge presets:
            the concatenated skip/FTN/ITN input is wide, the 3x3 convs need not be).
        frames: G frames decoded together (channel counts above are per frame; input and output are
            frame-major ``[B, G*C, H, W]``).
    """

    def __init__(self, in_ch: int, growth: int, layers: int, out_ch: int, squeeze: int = 0, frames: int = 1) -> None:
        super().__init__()
        g = self.frames = frames
        self.squeeze: nn.Module = nn.Identity()
        if squeeze > 0:
            self.squeeze = nn.Sequential(nn.Conv2d(g * in_ch, g * squeeze, 1, groups=g), nn.LeakyReLU(NEG_SLOPE, True))
            in_ch = squeeze
        self.convs = nn.ModuleList(conv(g * (in_ch + i * growth), g * growth, groups=g) for i in range(layers))
        fuse_in = g * (in_ch + layers * growth)
        self.fuse = nn.Sequential(nn.Conv2d(fuse_in, g * out_ch, 1, groups=g), nn.LeakyReLU(NEG_SLOPE, True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, G*in_ch, H, W] -> [B, G*out_ch, H, W]`` (frame-major channels)."""
        feats = [self.squeeze(x)]
        for layer in self.convs:
            feats.append(layer(frame_cat(feats, self.frames)))
        return self.fuse(frame_cat(feats, self.frames))


class AffineRegressor(nn.Module):
    """STN localisation net: feature ``[B,C,H,W]`` -> affine ``theta [B,2,3]`` (normalised coords).

    A stride-2 conv, a 3x3 conv, global average pooling and a linear layer initialised to the identity
    transform (zero weights, bias = [1,0,0,0,1,0]), so every STN starts as the identity warp.
    ``pool`` > 1 average-pools the input first: theta is global, so fine levels need not be
    regressed at full feature resolution (our choice; keeps each STN cheap).

    With ``frames = G``: one regressor per frame on a *shared* input ``[B,C,H,W]`` -> ``[B,G,2,3]``;
    the first conv is ungrouped (every frame reads the same input), the rest is grouped, and the
    linear layer is a grouped 1x1 convolution on the pooled features.
    """

    def __init__(self, in_ch: int, hidden: int, pool: int = 1, frames: int = 1) -> None:
        super().__init__()
        g = self.frames = frames
        self.pool = pool
        self.features = nn.Sequential(conv(in_ch, g * hidden, stride=2), conv(g * hidden, g * hidden, groups=g))
        self.fc: nn.Module = nn.Linear(hidden, 6) if g == 1 else nn.Conv2d(g * hidden, g * 6, 1, groups=g)
        nn.init.zeros_(self.fc.weight)
        with torch.no_grad():
            self.fc.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]).repeat(g))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W] -> theta [B, 2, 3]`` (G = 1) or ``[B, G, 2, 3]``, normalised coordinates."""
        if self.pool > 1:
            x = F.avg_pool2d(x, self.pool)
        pooled = self.features(x).mean(dim=(2, 3))
        if self.frames == 1:
            return self.fc(pooled).reshape(-1, 2, 3)
        theta = self.fc(pooled[:, :, None, None])
        return theta.reshape(-1, self.frames, 2, 3)


class FlowHead(nn.Module):
    """Local-warping net: feature ``[B,C,H,W]`` -> per-pixel flow ``[B,2,H,W]`` in pixels, zero at init.

    ``pool`` > 1 predicts the flow at 1/pool resolution and upsamples it bilinearly (values scaled
    by ``pool`` so they stay in input pixels).

    With ``frames = G``: one head per frame on a shared input; the flow is frame-major ``[B,G*2,H,W]``.
    """

    def __init__(self, in_ch: int, hidden: int, pool: int = 1, frames: int = 1) -> None:
        super().__init__()
        self.pool = pool
        self.body = conv(in_ch, frames * hidden)
        self.head = zero_conv(frames * hidden, frames * 2, groups=frames)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W] -> flow [B, G*2, H, W]`` in input pixels (x then y per frame)."""
        if self.pool == 1:
            return self.head(self.body(x))
        flow = self.head(self.body(F.avg_pool2d(x, self.pool)))
        return F.interpolate(flow, scale_factor=float(self.pool), mode="bilinear", align_corners=False) * self.pool


class FeatureTransformer(nn.Module):
    """FTN (Eq. 1) of G frames on a shared feature: per frame, concat(STN-warped, LW-warped feature).

    ``[B,C,H,W] -> ([B,G*2C,H,W], theta [B,G,2,3])`` (for G = 1: ``[B,2C,H,W]`` and ``[B,2,3]``).
    All 2G warps of one call are a single sampling operation (:func:`warp_shared`).
    """

    def __init__(
        self, in_ch: int, stn_hidden: int, lw_hidden: int, stn_pool: int = 1, lw_pool: int = 1, frames: int = 1
    ) -> None:
        super().__init__()
        self.frames = frames
        self.stn = AffineRegressor(in_ch, stn_hidden, stn_pool, frames)
        self.lw = FlowHead(in_ch, lw_hidden, lw_pool, frames)
        self.warp_mode = "native"

    def forward(self, feat: torch.Tensor) -> "tuple[torch.Tensor, torch.Tensor]":
        """``feat [B, C, H, W] -> (warped [B, G*2C, H, W], theta [B, 2, 3] or [B, G, 2, 3])``."""
        g = self.frames
        theta = self.stn(feat)
        if g == 1:
            glob = affine_warp(feat, theta, self.warp_mode, "border")
            local = flow_warp(feat, self.lw(feat), self.warp_mode, "border")
            return torch.cat([glob, local], dim=1), theta
        b, c, h, w = feat.shape
        grids = torch.cat([affine_grids(theta, h, w), flow_grids(self.lw(feat).reshape(b, g, 2, h, w))], dim=1)
        warped = warp_shared(feat, grids, self.warp_mode, "border")  # [B, 2G, C, H, W]: G global, G local
        per_frame = torch.stack([warped[:, :g], warped[:, g:]], dim=2)  # [B, G, 2, C, H, W]
        return per_frame.reshape(b, g * 2 * c, h, w), theta


class RefineBlock(nn.Module):
    """Refining block: [last feature, image] -> image + residual, dilated convs widen the field of view.

    With ``frames = G`` feature and image are frame-major (``[B,G*C,H,W]``, ``[B,G*3,H,W]``).
    """

    def __init__(self, in_ch: int, ch: int, dilations: "tuple[int, ...]" = (1, 2, 4), frames: int = 1) -> None:
        super().__init__()
        g = self.frames = frames
        layers: List[nn.Module] = [conv(g * (in_ch + 3), g * ch, groups=g)]
        layers += [conv(g * ch, g * ch, dilation=d, groups=g) for d in dilations[1:]]
        self.body = nn.Sequential(*layers)
        self.head = zero_conv(g * ch, g * 3, groups=g)

    def forward(self, feat: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """``feat [B, G*C, H, W]``, ``image [B, G*3, H, W] -> image + residual [B, G*3, H, W]``."""
        return image + self.head(self.body(frame_cat([feat, image], self.frames)))


# ---- NAFNet-style blocks (Chen et al., "Simple Baselines for Image Restoration", ECCV 2022) -----
class LayerNorm2d(nn.Module):
    """Layer normalisation over the channels of each pixel of ``[B,C,H,W]`` (learned scale and shift)."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W] -> [B, C, H, W]``, normalised over C at each pixel."""
        mean = x.mean(dim=1, keepdim=True)
        var = (x - mean).pow(2).mean(dim=1, keepdim=True)
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias


class SimpleGate(nn.Module):
    """Split the channels in two halves and multiply them: ``[B,2C,H,W] -> [B,C,H,W]``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 2C, H, W] -> [B, C, H, W]``: first half times second half."""
        half = x.shape[1] // 2
        return x[:, :half] * x[:, half:]  # two Slices, not Split: Split's num_outputs needs opset 18


class NAFBlock(nn.Module):
    """Nonlinear-activation-free block: ``[B,C,H,W] -> [B,C,H,W]``, starts as the identity.

    Spatial mixing: LayerNorm -> 1x1 (C -> 2C) -> 3x3 depthwise -> SimpleGate -> simplified channel
    attention (global pool, 1x1, multiply) -> 1x1 (C -> C), added with a learned scale ``beta``.
    Channel mixing: LayerNorm -> 1x1 (C -> 2C) -> SimpleGate -> 1x1 (C -> C), scale ``gamma``.
    ``beta`` and ``gamma`` start at zero, so a fresh block passes its input through unchanged.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        c = channels
        self.norm1 = LayerNorm2d(c)
        self.expand = nn.Conv2d(c, 2 * c, 1)
        self.depthwise = nn.Conv2d(2 * c, 2 * c, 3, padding=1, groups=2 * c)
        self.gate = SimpleGate()
        self.attention = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, c, 1))
        self.project = nn.Conv2d(c, c, 1)
        self.norm2 = LayerNorm2d(c)
        self.ffn_expand = nn.Conv2d(c, 2 * c, 1)
        self.ffn_project = nn.Conv2d(c, c, 1)
        self.beta = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, c, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W] -> [B, C, H, W]`` (residual; the identity at init)."""
        y = self.gate(self.depthwise(self.expand(self.norm1(x))))
        y = self.project(y * self.attention(y))
        x = x + y * self.beta
        y = self.ffn_project(self.gate(self.ffn_expand(self.norm2(x))))
        return x + y * self.gamma


class NAFStage(nn.Module):
    """A 1x1 projection to ``out_ch`` followed by ``blocks`` NAF blocks: ``[B,in,H,W] -> [B,out,H,W]``."""

    def __init__(self, in_ch: int, out_ch: int, blocks: int) -> None:
        super().__init__()
        self.project = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()
        self.blocks = nn.Sequential(*(NAFBlock(out_ch) for _ in range(blocks)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, in_ch, H, W] -> [B, out_ch, H, W]``."""
        return self.blocks(self.project(x))


class NAFEncoderBlock(nn.Module):
    """Downsampling 3x3 stride-2 conv then ``blocks`` NAF blocks: ``[B,in,H,W] -> [B,out,H/2,W/2]``."""

    def __init__(self, in_ch: int, out_ch: int, blocks: int) -> None:
        super().__init__()
        self.down = nn.Conv2d(in_ch, out_ch, 3, 2, 1)
        self.blocks = nn.Sequential(*(NAFBlock(out_ch) for _ in range(blocks)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, in_ch, H, W] -> [B, out_ch, H/2, W/2]``."""
        return self.blocks(self.down(x))
