"""Encoders: images (N, 1, H, W) -> feature vectors (N, out_features)."""
import math

import torch
from torch import nn

from src.models.parts.layout import channel_first_order, channels_last_flat, pooled_sizes


def conv_stack(in_channels: int, channels: int, kernel: int, layers: int) -> nn.Sequential:
    blocks = []
    for i in range(layers):
        blocks += [
            nn.Conv2d(in_channels if i == 0 else channels, channels, kernel, padding="same"),
            nn.ReLU(),
            nn.MaxPool2d(2, ceil_mode=True),
        ]
    return nn.Sequential(*blocks)


class ConvEncoder(nn.Module):
    """The paper's convolution optimisation (section 2, Fig. 1), encoding side.

    Con_Layer1: `layers` x [Conv 16@3x3 same, ReLU, MaxPool 2x2 ceil] on the image.
    Con_Layer2: `layers` x [Conv 32@5x5 same, ReLU, MaxPool 2x2 ceil] on Con_Layer1's output.
    Features: both outputs flattened and concatenated (the paper's "spliced data"),
    flattened in (height, width, channel) order as Keras's Flatten does in seed 001's code.
    On the channels-last tensors used here that order is a view, where (channel, height,
    width) order would copy every activation and its gradient (conv n=1: about 10% of a step).
    """

    def __init__(self, layers: int, image_size: int = 28, channels1: int = 16, channels2: int = 32):
        super().__init__()
        self.con_layer1 = conv_stack(1, channels1, 3, layers)
        self.con_layer2 = conv_stack(channels1, channels2, 5, layers)
        size1 = pooled_sizes(image_size, layers)[-1]
        size2 = pooled_sizes(size1, layers)[-1]
        self.shape1, self.shape2 = (channels1, size1, size1), (channels2, size2, size2)
        self.out_features = math.prod(self.shape1) + math.prod(self.shape2)
        self.to(memory_format=torch.channels_last)  # faster convolutions on CPU (oneDNN) and GPU

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h1 = self.con_layer1(x.contiguous(memory_format=torch.channels_last))
        h2 = self.con_layer2(h1)
        return torch.cat([channels_last_flat(h1), channels_last_flat(h2)], dim=1)

    def channel_first_order(self) -> torch.Tensor:
        """Indices that reorder a feature vector from version 1's (channel, height, width) order."""
        return torch.cat([channel_first_order(self.shape1),
                          math.prod(self.shape1) + channel_first_order(self.shape2)])


class FlatEncoder(nn.Module):
    """The paper's "traditional" VAE: the flattened pixels are the features."""

    def __init__(self, image_size: int = 28):
        super().__init__()
        self.out_features = image_size * image_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


class StridedConvEncoder(nn.Module):
    """Seed 001's encoder: for each of `channels` (32, 64) a block of [Conv 3x3 stride 2,
    LeakyReLU 0.2, Conv 3x3 stride 1, LeakyReLU 0.2], "same" padding (28 -> 14 -> 7);
    the features are the last block's output, flattened."""

    def __init__(self, image_size: int = 28, channels: tuple[int, ...] = (32, 64)):
        super().__init__()
        blocks, previous, size = [], 1, image_size
        for width in channels:
            blocks += [nn.Conv2d(previous, width, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
                       nn.Conv2d(width, width, 3, padding=1), nn.LeakyReLU(0.2)]
            previous, size = width, math.ceil(size / 2)
        self.blocks = nn.Sequential(*blocks)
        self.shape = (previous, size, size)
        self.out_features = math.prod(self.shape)
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return channels_last_flat(self.blocks(x.contiguous(memory_format=torch.channels_last)))


def dense_block(in_units: int, out_units: int, batch_norm: bool = True) -> nn.Sequential:
    """Linear (no bias: batch norm has one), batch norm, ReLU; or, without batch norm (DEC's
    autoencoder), linear with bias, ReLU."""
    if not batch_norm:
        return nn.Sequential(nn.Linear(in_units, out_units), nn.ReLU())
    return nn.Sequential(nn.Linear(in_units, out_units, bias=False), nn.BatchNorm1d(out_units), nn.ReLU())


class DenseEncoder(nn.Module):
    """The bake-off's fully connected encoder (seed 004): the flattened image through one
    dense block per entry of `units` (1024 -> 341 -> 113 for the deep models, none for the
    shallow one). The last layer to the code belongs to the bottleneck. `blocks` is a list, so
    that the stacked autoencoder can run and train a prefix of it."""

    def __init__(self, image_size: int = 28, units: tuple[int, ...] = (), batch_norm: bool = True):
        super().__init__()
        sizes = [image_size * image_size, *units]
        self.blocks = nn.ModuleList(dense_block(a, b, batch_norm) for a, b in zip(sizes, sizes[1:]))
        self.out_features = sizes[-1]

    def forward(self, x: torch.Tensor, depth: int | None = None) -> torch.Tensor:
        h = x.flatten(1)
        for block in self.blocks[:depth]:
            h = block(h)
        return h
