"""Convolution + batch norm (+ ReLU), the unit of the ShuffleNetV2K and ResNet backbones, with
the batch norm folded into the convolution for inference."""
from __future__ import annotations

import torch
from torch import nn

# OpenPifPaf trains its batch norms with eps 1e-3 and momentum 0.01 (torch's are 1e-5 and 0.1)
BATCH_NORM_EPS = 1e-3
BATCH_NORM_MOMENTUM = 0.01


class ConvBn(nn.Module):
    """Conv2d without bias, batch norm, then ReLU when `relu`; padding keeps the size at stride 1."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 1, stride: int = 1, groups: int = 1,
                 dilation: int = 1, relu: bool = True, eps: float = BATCH_NORM_EPS):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, (kernel - 1) // 2 * dilation, dilation, groups, bias=False)
        self.norm = nn.BatchNorm2d(c_out, eps=eps, momentum=BATCH_NORM_MOMENTUM)
        self.relu = relu

    def forward(self, x):
        x = self.conv(x) if self.norm is None else self.norm(self.conv(x))
        return torch.relu(x) if self.relu else x

    def fold_batch_norm(self) -> None:
        """Fold the batch norm into the convolution (inference only)."""
        if self.norm is None:
            return
        norm, conv = self.norm, self.conv
        scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
        folded = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                           conv.dilation, conv.groups, bias=True)
        with torch.no_grad():
            folded.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
            folded.bias.copy_(norm.bias - norm.running_mean * scale)
        self.conv = folded.to(conv.weight.device)
        self.norm = None


def fold_batch_norms(network: nn.Module) -> nn.Module:
    for module in network.modules():
        if isinstance(module, ConvBn):
            module.fold_batch_norm()
    return network
