"""Decoders: decoded vectors (N, in_features) -> images (N, 1, H, W) in [0, 1]."""
import math

import torch
from torch import nn

from src.models.parts.layout import channel_first_order, channels_last_unflat, pooled_sizes


class ConvDecoder(nn.Module):
    """The paper's TranCon_Layer1: the decoded vector has Con_Layer1's output shape (ReLU
    applied) and goes through `layers` transposed convolutions (3x3, stride 2) that undo
    Con_Layer1's poolings size by size, ReLU between them, sigmoid at the end.

    The paper's decoder also emits a Con_Layer2 slice that reaches neither the image nor
    the loss (it would get no gradient); it is not computed here.
    """

    def __init__(self, layers: int, image_size: int = 28, channels1: int = 16):
        super().__init__()
        sizes = pooled_sizes(image_size, layers)
        self.shape = (channels1, sizes[-1], sizes[-1])
        self.in_features = math.prod(self.shape)
        blocks = []
        for i, (small, large) in enumerate(zip(sizes[:0:-1], sizes[-2::-1])):
            last = i == layers - 1
            blocks += [
                nn.ConvTranspose2d(channels1, 1 if last else channels1, 3, stride=2, padding=1,
                                   output_padding=large - (2 * small - 1)),
                nn.Sigmoid() if last else nn.ReLU(),
            ]
        self.tran_con_layer1 = nn.Sequential(*blocks)
        self.to(memory_format=torch.channels_last)

    def forward(self, decoded: torch.Tensor) -> torch.Tensor:
        return self.tran_con_layer1(channels_last_unflat(torch.relu(decoded), self.shape)).contiguous()

    def channel_first_order(self) -> torch.Tensor:
        """Indices that reorder a decoded vector from version 1's (channel, height, width) order."""
        return channel_first_order(self.shape)


class FlatDecoder(nn.Module):
    """The flat VAE's output: a sigmoid over the decoded 784 pixels."""

    def __init__(self, image_size: int = 28):
        super().__init__()
        self.image_size = image_size
        self.in_features = image_size * image_size

    def forward(self, decoded: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(decoded).view(-1, 1, self.image_size, self.image_size)
