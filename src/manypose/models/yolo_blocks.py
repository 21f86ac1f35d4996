"""Building blocks of the YOLOv5 (KAPAO), YOLOv8 and YOLO11 backbones and necks.

Attribute names (conv, bn, cv1, cv2, m, ...) follow the published checkpoint layout so that
converted weights map one to one, key for key, without a renaming table.
"""
from __future__ import annotations

import math

import torch
from torch import nn


def same_padding(kernel_size: int) -> int:
    return kernel_size // 2


class ConvBnAct(nn.Module):
    """Conv2d without bias, batch norm, then SiLU (or no activation)."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int = 1, stride: int = 1,
                 groups: int = 1, activation: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size, stride, same_padding(kernel_size),
                              groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU() if activation else nn.Identity()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)) if self.bn is not None else self.conv(x))

    def fold_batch_norm(self) -> None:
        """Fold the batch norm into the convolution (inference only; stops training of bn)."""
        if self.bn is None:
            return
        scale = self.bn.weight / torch.sqrt(self.bn.running_var + self.bn.eps)
        folded = nn.Conv2d(self.conv.in_channels, self.conv.out_channels, self.conv.kernel_size,
                           self.conv.stride, self.conv.padding, groups=self.conv.groups, bias=True)
        with torch.no_grad():
            folded.weight.copy_(self.conv.weight * scale.reshape(-1, 1, 1, 1))
            folded.bias.copy_(self.bn.bias - self.bn.running_mean * scale)
        self.conv = folded.to(self.conv.weight.device)
        self.bn = None


def depthwise(c_in: int, c_out: int, kernel_size: int) -> ConvBnAct:
    return ConvBnAct(c_in, c_out, kernel_size, groups=math.gcd(c_in, c_out))


class Bottleneck(nn.Module):
    """Two convolutions, 3x3 and 3x3 (YOLOv8 and later) or 1x1 and 3x3 (YOLOv5), and a shortcut."""

    def __init__(self, c_in: int, c_out: int, shortcut: bool = True, kernel_sizes: tuple[int, int] = (3, 3),
                 expansion: float = 0.5):
        super().__init__()
        hidden = int(c_out * expansion)
        self.cv1 = ConvBnAct(c_in, hidden, kernel_sizes[0])
        self.cv2 = ConvBnAct(hidden, c_out, kernel_sizes[1])
        self.add = shortcut and c_in == c_out

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class CSPTwoConv(nn.Module):
    """YOLOv8's C2f: split, a chain of inner blocks, concatenate every intermediate output."""

    def __init__(self, c_in: int, c_out: int, repeats: int = 1, shortcut: bool = False,
                 expansion: float = 0.5):
        super().__init__()
        self.c = int(c_out * expansion)
        self.cv1 = ConvBnAct(c_in, 2 * self.c, 1)
        self.cv2 = ConvBnAct((2 + repeats) * self.c, c_out, 1)
        self.m = nn.ModuleList(self.inner_block(shortcut) for _ in range(repeats))

    def inner_block(self, shortcut: bool) -> nn.Module:
        return Bottleneck(self.c, self.c, shortcut, expansion=1.0)

    def forward(self, x):
        parts = list(self.cv1(x).chunk(2, 1))
        for block in self.m:
            parts.append(block(parts[-1]))
        return self.cv2(torch.cat(parts, 1))


class CSPThreeConv(nn.Module):
    """YOLO11's C3k (YOLOv5's C3 with 1x1 + 3x3 bottlenecks): two 1x1 branches, one through a
    chain of bottlenecks, merged by a 1x1."""

    def __init__(self, c_in: int, c_out: int, repeats: int = 2, shortcut: bool = True,
                 expansion: float = 0.5, bottleneck_kernels: tuple[int, int] = (3, 3)):
        super().__init__()
        hidden = int(c_out * expansion)
        self.cv1 = ConvBnAct(c_in, hidden, 1)
        self.cv2 = ConvBnAct(c_in, hidden, 1)
        self.cv3 = ConvBnAct(2 * hidden, c_out, 1)
        self.m = nn.Sequential(*(Bottleneck(hidden, hidden, shortcut, bottleneck_kernels, expansion=1.0)
                                 for _ in range(repeats)))

    def forward(self, x):
        return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))


class CSPTwoConvK2(CSPTwoConv):
    """YOLO11's C3k2: C2f whose inner blocks are bottlenecks or, for larger models, C3k."""

    def __init__(self, c_in: int, c_out: int, repeats: int = 1, use_c3k: bool = False,
                 expansion: float = 0.5, shortcut: bool = True):
        self.use_c3k = use_c3k
        super().__init__(c_in, c_out, repeats, shortcut, expansion)

    def inner_block(self, shortcut: bool) -> nn.Module:
        if self.use_c3k:
            return CSPThreeConv(self.c, self.c, 2, shortcut)
        return Bottleneck(self.c, self.c, shortcut)


class SpatialPyramidPoolFast(nn.Module):
    """SPPF: three chained 5x5 max pools, all four stages concatenated."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int = 5):
        super().__init__()
        hidden = c_in // 2
        self.cv1 = ConvBnAct(c_in, hidden, 1)
        self.cv2 = ConvBnAct(hidden * 4, c_out, 1)
        self.m = nn.MaxPool2d(kernel_size, 1, kernel_size // 2)

    def forward(self, x):
        stages = [self.cv1(x)]
        for _ in range(3):
            stages.append(self.m(stages[-1]))
        return self.cv2(torch.cat(stages, 1))


class MultiHeadSelfAttention(nn.Module):
    """Attention over all positions, with a depthwise 3x3 positional encoding of the values."""

    def __init__(self, dim: int, num_heads: int, key_ratio: float = 0.5):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.key_dim = int(self.head_dim * key_ratio)
        self.scale = self.key_dim ** -0.5
        self.qkv = ConvBnAct(dim, dim + 2 * self.key_dim * num_heads, 1, activation=False)
        self.proj = ConvBnAct(dim, dim, 1, activation=False)
        self.pe = ConvBnAct(dim, dim, 3, groups=dim, activation=False)

    def forward(self, x):
        b, c, h, w = x.shape
        qkv = self.qkv(x).view(b, self.num_heads, 2 * self.key_dim + self.head_dim, h * w)
        q, k, v = qkv.split([self.key_dim, self.key_dim, self.head_dim], dim=2)
        weights = ((q.transpose(-2, -1) @ k) * self.scale).softmax(dim=-1)
        attended = (v @ weights.transpose(-2, -1)).view(b, c, h, w)
        return self.proj(attended + self.pe(v.reshape(b, c, h, w)))


class AttentionBlock(nn.Module):
    """PSABlock: residual attention then a residual two-layer 1x1 feed-forward."""

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.attn = MultiHeadSelfAttention(dim, num_heads)
        self.ffn = nn.Sequential(ConvBnAct(dim, dim * 2, 1), ConvBnAct(dim * 2, dim, 1, activation=False))

    def forward(self, x):
        x = x + self.attn(x)
        return x + self.ffn(x)


class CSPAttention(nn.Module):
    """YOLO11's C2PSA: half the channels pass through attention blocks, half bypass them."""

    def __init__(self, c_in: int, c_out: int, repeats: int = 1, expansion: float = 0.5):
        super().__init__()
        if c_in != c_out:
            raise ValueError(f"C2PSA needs equal input and output channels, got {c_in} and {c_out}")
        self.c = int(c_in * expansion)
        self.cv1 = ConvBnAct(c_in, 2 * self.c, 1)
        self.cv2 = ConvBnAct(2 * self.c, c_in, 1)
        self.m = nn.Sequential(*(AttentionBlock(self.c, num_heads=max(self.c // 64, 1))
                                 for _ in range(repeats)))

    def forward(self, x):
        bypass, attended = self.cv1(x).split((self.c, self.c), dim=1)
        return self.cv2(torch.cat((bypass, self.m(attended)), 1))


class Concat(nn.Module):
    def forward(self, inputs):
        return torch.cat(inputs, 1)


class Focus(nn.Module):
    """YOLOv5's first layer: each 2x2 pixel block's four pixels stacked as channels, then a convolution."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int = 1, stride: int = 1):
        super().__init__()
        self.conv = ConvBnAct(4 * c_in, c_out, kernel_size, stride)

    def forward(self, x):
        return self.conv(torch.cat((x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2], x[..., 1::2, 1::2]), 1))


class SpatialPyramidPool(nn.Module):
    """YOLOv5's SPP: parallel max pools of several sizes, concatenated with their input."""

    def __init__(self, c_in: int, c_out: int, kernel_sizes=(5, 9, 13)):
        super().__init__()
        hidden = c_in // 2
        self.cv1 = ConvBnAct(c_in, hidden, 1)
        self.cv2 = ConvBnAct(hidden * (len(kernel_sizes) + 1), c_out, 1)
        self.m = nn.ModuleList(nn.MaxPool2d(k, 1, k // 2) for k in kernel_sizes)

    def forward(self, x):
        x = self.cv1(x)
        return self.cv2(torch.cat([x] + [pool(x) for pool in self.m], 1))


def build_layers(arch: dict, make_layer) -> tuple[list, list]:
    """The layers of an architecture description (`[source, repeats, block, args]` rows of its
    backbone then head) and their sources; `make_layer(block, args, repeats, c_in, source,
    out_channels)` -> (layer, its output channels)."""
    layers, sources, out_channels = [], [], []
    for index, (source, repeats, block, args) in enumerate(arch["backbone"] + arch["head"]):
        c_in = 3 if index == 0 else out_channels[source if isinstance(source, int) else source[0]]
        layer, c_out = make_layer(block, list(args), repeats, c_in, source, out_channels)
        layers.append(layer)
        sources.append(source)
        out_channels.append(c_out)
    return layers, sources


def head_inputs(layers, sources, x) -> list:
    """Run every layer but the last (the head) in order, each on the output of its source (-1:
    the previous layer; a list: several, for Concat); the feature maps the head reads."""
    outputs = []
    for layer, source in zip(layers[:-1], sources[:-1]):
        if isinstance(source, int):
            inputs = x if source == -1 else outputs[source]
        else:
            inputs = [x if s == -1 else outputs[s] for s in source]
        x = layer(inputs)
        outputs.append(x)
    return [x if s == -1 else outputs[s] for s in sources[-1]]


class LayeredNetwork(nn.Module):
    """A network built by `build_layers`: `self.model` (its last layer the head, with `raw`) and
    `self.sources`, set by the subclass."""

    def forward(self, x):
        """Images (B, 3, H, W) RGB in 0..1 -> the head's decoded predictions."""
        return self.model[-1](self.head_inputs(x))

    def raw_outputs(self, x) -> list:
        """Images -> the head's undecoded predictions per level, which the training loss reads."""
        return self.model[-1].raw(self.head_inputs(x))

    def head_inputs(self, x) -> list:
        """The feature maps the head (the last layer) reads."""
        return head_inputs(self.model, self.sources, x)

    def fold_batch_norms(self) -> "LayeredNetwork":
        for module in self.modules():
            if isinstance(module, ConvBnAct):
                module.fold_batch_norm()
        return self
