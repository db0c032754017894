"""Building blocks of the blur-to-video network (section 4 of Argaw et al., CVPR-W 2021).

All blocks take and return ``[B, C, H, W]`` tensors. Kernel sizes are not given in the paper's
surviving text; we use 3x3 convolutions and 4x4 stride-2 transposed convolutions (exact 2x
upsampling without checkerboard-prone odd kernels) and LeakyReLU(0.1).
"""

from __future__ import annotations

from typing import List

import torch
import torch.nn as nn
import torch.nn.functional as F

from .warp import affine_warp, flow_warp

NEG_SLOPE = 0.1


def conv(in_ch: int, out_ch: int, stride: int = 1, dilation: int = 1, act: bool = True) -> nn.Sequential:
    """3x3 convolution (+ LeakyReLU) with 'same' padding for stride 1.

    Args:
        in_ch: input channels.
        out_ch: output channels.
        stride: 1 or 2.
        dilation: dilation of the 3x3 kernel.
        act: append LeakyReLU(0.1).
    """
    layers: List[nn.Module] = [nn.Conv2d(in_ch, out_ch, 3, stride, padding=dilation, dilation=dilation)]
    if act:
        layers.append(nn.LeakyReLU(NEG_SLOPE, inplace=True))
    return nn.Sequential(*layers)


def upconv(in_ch: int, out_ch: int, act: bool = True, kernel: int = 4) -> nn.Sequential:
    """Transposed stride-2 convolution ``[B,in,H,W] -> [B,out,2H,2W]``; kernel 4 (pad 1) or 2 (pad 0)."""
    if kernel not in (2, 4):
        raise ValueError(f"upconv kernel must be 2 or 4, got {kernel}")
    layers: List[nn.Module] = [nn.ConvTranspose2d(in_ch, out_ch, kernel, 2, padding=(kernel - 2) // 2)]
    if act:
        layers.append(nn.LeakyReLU(NEG_SLOPE, inplace=True))
    return nn.Sequential(*layers)


def zero_conv(in_ch: int, out_ch: int) -> nn.Conv2d:
    """3x3 convolution initialised to output zeros (image/flow heads start as identity)."""
    layer = nn.Conv2d(in_ch, out_ch, 3, 1, 1)
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
    """

    def __init__(self, in_ch: int, growth: int, layers: int, out_ch: int, squeeze: int = 0) -> None:
        super().__init__()
        self.squeeze: nn.Module = nn.Identity()
        if squeeze > 0:
            self.squeeze = nn.Sequential(nn.Conv2d(in_ch, squeeze, 1), nn.LeakyReLU(NEG_SLOPE, True))
            in_ch = squeeze
        self.convs = nn.ModuleList(conv(in_ch + i * growth, growth) for i in range(layers))
        self.fuse = nn.Sequential(nn.Conv2d(in_ch + layers * growth, out_ch, 1), nn.LeakyReLU(NEG_SLOPE, True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [self.squeeze(x)]
        for layer in self.convs:
            feats.append(layer(torch.cat(feats, dim=1)))
        return self.fuse(torch.cat(feats, dim=1))


class AffineRegressor(nn.Module):
    """STN localisation net: feature ``[B,C,H,W]`` -> affine ``theta [B,2,3]`` (normalised coords).

    A stride-2 conv, a 3x3 conv, global average pooling and a linear layer initialised to the identity
    transform (zero weights, bias = [1,0,0,0,1,0]), so every STN starts as the identity warp.
    ``pool`` > 1 average-pools the input first: theta is global, so fine levels need not be
    regressed at full feature resolution (our choice; keeps each STN cheap).
    """

    def __init__(self, in_ch: int, hidden: int, pool: int = 1) -> None:
        super().__init__()
        self.pool = pool
        self.features = nn.Sequential(conv(in_ch, hidden, stride=2), conv(hidden, hidden))
        self.fc = nn.Linear(hidden, 6)
        nn.init.zeros_(self.fc.weight)
        with torch.no_grad():
            self.fc.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool > 1:
            x = F.avg_pool2d(x, self.pool)
        pooled = self.features(x).mean(dim=(2, 3))
        return self.fc(pooled).reshape(-1, 2, 3)


class FlowHead(nn.Module):
    """Local-warping net: feature ``[B,C,H,W]`` -> per-pixel flow ``[B,2,H,W]`` in pixels, zero at init.

    ``pool`` > 1 predicts the flow at 1/pool resolution and upsamples it bilinearly (values scaled
    by ``pool`` so they stay in input pixels).
    """

    def __init__(self, in_ch: int, hidden: int, pool: int = 1) -> None:
        super().__init__()
        self.pool = pool
        self.body = conv(in_ch, hidden)
        self.head = zero_conv(hidden, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool == 1:
            return self.head(self.body(x))
        flow = self.head(self.body(F.avg_pool2d(x, self.pool)))
        return F.interpolate(flow, scale_factor=float(self.pool), mode="bilinear", align_corners=False) * self.pool


class FeatureTransformer(nn.Module):
    """FTN (Eq. 1): concat(STN-warped feature, LW-warped feature) -> ``[B,2C,H,W]``.

    Returns the transformed feature and the STN's ``theta`` (for the consistency loss).
    """

    def __init__(self, in_ch: int, stn_hidden: int, lw_hidden: int, stn_pool: int = 1, lw_pool: int = 1) -> None:
        super().__init__()
        self.stn = AffineRegressor(in_ch, stn_hidden, stn_pool)
        self.lw = FlowHead(in_ch, lw_hidden, lw_pool)
        self.warp_mode = "native"

    def forward(self, feat: torch.Tensor) -> "tuple[torch.Tensor, torch.Tensor]":
        theta = self.stn(feat)
        glob = affine_warp(feat, theta, self.warp_mode, "border")
        local = flow_warp(feat, self.lw(feat), self.warp_mode, "border")
        return torch.cat([glob, local], dim=1), theta


class RefineBlock(nn.Module):
    """Refining block: [last feature, image] -> image + residual, dilated convs widen the field of view."""

    def __init__(self, in_ch: int, ch: int, dilations: "tuple[int, ...]" = (1, 2, 4)) -> None:
        super().__init__()
        layers: List[nn.Module] = [conv(in_ch + 3, ch)]
        layers += [conv(ch, ch, dilation=d) for d in dilations[1:]]
        self.body = nn.Sequential(*layers)
        self.head = zero_conv(ch, 3)

    def forward(self, feat: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return image + self.head(self.body(torch.cat([feat, image], dim=1)))


# ---- NAFNet-style blocks (Chen et al., "Simple Baselines for Image Restoration", ECCV 2022) -----
class LayerNorm2d(nn.Module):
    """Layer normalisation over the channels of each pixel of ``[B,C,H,W]`` (learned scale and shift)."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=1, keepdim=True)
        var = (x - mean).pow(2).mean(dim=1, keepdim=True)
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias


class SimpleGate(nn.Module):
    """Split the channels in two halves and multiply them: ``[B,2C,H,W] -> [B,C,H,W]``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        return a * b


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
        return self.blocks(self.project(x))


class NAFEncoderBlock(nn.Module):
    """Downsampling 3x3 stride-2 conv then ``blocks`` NAF blocks: ``[B,in,H,W] -> [B,out,H/2,W/2]``."""

    def __init__(self, in_ch: int, out_ch: int, blocks: int) -> None:
        super().__init__()
        self.down = nn.Conv2d(in_ch, out_ch, 3, 2, 1)
        self.blocks = nn.Sequential(*(NAFBlock(out_ch) for _ in range(blocks)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.down(x))
