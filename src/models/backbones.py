"""What sits between the image and the VAE's fully connected layers.

A backbone maps images to a feature vector (`features`) and maps a decoded feature
vector back to an image (`to_image`); the clustering VAE around it is the same for
every backbone.
"""
import math

import torch
from torch import nn


def pooled_sizes(size: int, layers: int) -> list[int]:
    """Spatial sizes through `layers` ceil-mode 2x2 poolings: 28 -> 14 -> 7 -> 4 -> 2 -> 1 -> 1."""
    sizes = [size]
    for _ in range(layers):
        sizes.append(math.ceil(sizes[-1] / 2))
    return sizes


def conv_stack(in_channels: int, channels: int, kernel: int, layers: int) -> nn.Sequential:
    blocks = []
    for i in range(layers):
        blocks += [
            nn.Conv2d(in_channels if i == 0 else channels, channels, kernel, padding="same"),
            nn.ReLU(),
            nn.MaxPool2d(2, ceil_mode=True),
        ]
    return nn.Sequential(*blocks)


def channels_last_flat(h: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, H * W * C); a view when `h` is channels-last."""
    return h.permute(0, 2, 3, 1).flatten(1)


def channels_last_unflat(v: torch.Tensor, shape: tuple[int, int, int]) -> torch.Tensor:
    """The inverse of `channels_last_flat`: (N, H * W * C) -> channels-last (N, C, H, W), a view."""
    channels, height, width = shape
    return v.view(-1, height, width, channels).permute(0, 3, 1, 2)


class ConvBackbone(nn.Module):
    """The paper's convolution optimisation (section 2, Fig. 1).

    Con_Layer1: `layers` x [Conv 16@3x3 same, ReLU, MaxPool 2x2 ceil] on the image.
    Con_Layer2: `layers` x [Conv 32@5x5 same, ReLU, MaxPool 2x2 ceil] on Con_Layer1's output.
    Features: both outputs flattened and concatenated (the paper's "spliced data"),
    flattened in (height, width, channel) order as Keras's Flatten does in seed 001's code.
    On the channels-last tensors used here that order is a view, where (channel, height,
    width) order would copy every activation and its gradient (conv n=1: about 10% of a step).
    Decoding: the decoder's vector has Con_Layer1's output shape and goes through
    TranCon_Layer1, transposed convolutions that undo Con_Layer1's poolings size by size.
    The paper's decoder also emits a Con_Layer2 slice that reaches neither the image nor
    the loss (it would get no gradient); it is not computed here (`decoded_size`).
    """

    def __init__(self, layers: int, image_size: int = 28, channels1: int = 16, channels2: int = 32):
        super().__init__()
        self.con_layer1 = conv_stack(1, channels1, 3, layers)
        self.con_layer2 = conv_stack(channels1, channels2, 5, layers)
        sizes1 = pooled_sizes(image_size, layers)
        sizes2 = pooled_sizes(sizes1[-1], layers)
        self.shape1 = (channels1, sizes1[-1], sizes1[-1])
        self.shape2 = (channels2, sizes2[-1], sizes2[-1])
        self.size1 = math.prod(self.shape1)
        self.feature_size = self.size1 + math.prod(self.shape2)
        self.decoded_size = self.size1

        blocks = []
        for i, (small, large) in enumerate(zip(sizes1[:0:-1], sizes1[-2::-1])):
            last = i == layers - 1
            blocks += [
                nn.ConvTranspose2d(channels1, 1 if last else channels1, 3, stride=2, padding=1,
                                   output_padding=large - (2 * small - 1)),
                nn.Sigmoid() if last else nn.ReLU(),
            ]
        self.tran_con_layer1 = nn.Sequential(*blocks)
        self.to(memory_format=torch.channels_last)  # faster convolutions on CPU (oneDNN) and GPU

    def from_channel_first_order(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Indices that reorder (features, decoded vector) from (channel, height, width) order,
        which checkpoints written before the clustering VAE's version 2 use, into this order."""
        def order(shape):  # where channels_last_flat puts each element of a (C, H, W) vector
            return channels_last_flat(torch.arange(math.prod(shape)).view(1, *shape))[0]

        features = torch.cat([order(self.shape1), self.size1 + order(self.shape2)])
        return features, order(self.shape1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h1 = self.con_layer1(x.contiguous(memory_format=torch.channels_last))
        h2 = self.con_layer2(h1)
        return torch.cat([channels_last_flat(h1), channels_last_flat(h2)], dim=1)

    def to_image(self, decoded: torch.Tensor) -> torch.Tensor:
        h1 = channels_last_unflat(torch.relu(decoded), self.shape1)
        return self.tran_con_layer1(h1).contiguous()


class FlatBackbone(nn.Module):
    """The paper's "traditional" VAE: the flattened pixels are the features."""

    def __init__(self, image_size: int = 28):
        super().__init__()
        self.image_size = image_size
        self.feature_size = self.decoded_size = image_size * image_size

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)

    def to_image(self, decoded: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(decoded).view(-1, 1, self.image_size, self.image_size)
