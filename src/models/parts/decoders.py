"""Decoders: decoded vectors (N, in_features) -> images (N, 1, H, W) in [0, 1]."""
import math

import torch
from torch import nn

from src.models.parts.encoders import dense_block
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


class StridedConvDecoder(nn.Module):
    """Seed 001's decoder, the encoder's mirror: the decoded vector (no activation) shaped
    to (channels[0], size / 4, size / 4), then for each of `channels` (64, 32) a block of
    [ConvTranspose 3x3 stride 1, LeakyReLU 0.2, ConvTranspose 3x3 stride 2, LeakyReLU 0.2]
    (7 -> 14 -> 28), and a last ConvTranspose 3x3 to one channel with a sigmoid."""

    def __init__(self, image_size: int = 28, channels: tuple[int, ...] = (64, 32)):
        super().__init__()
        scale = 2 ** len(channels)
        if image_size % scale:
            raise ValueError(f"StridedConvDecoder: image_size {image_size} is not a multiple of {scale}")
        self.shape = (channels[0], image_size // scale, image_size // scale)
        self.in_features = math.prod(self.shape)
        blocks, previous = [], channels[0]
        for width in channels:
            blocks += [nn.ConvTranspose2d(previous, width, 3, padding=1), nn.LeakyReLU(0.2),
                       nn.ConvTranspose2d(width, width, 3, stride=2, padding=1, output_padding=1),
                       nn.LeakyReLU(0.2)]
            previous = width
        blocks += [nn.ConvTranspose2d(previous, 1, 3, padding=1), nn.Sigmoid()]
        self.blocks = nn.Sequential(*blocks)
        self.to(memory_format=torch.channels_last)

    def forward(self, decoded: torch.Tensor) -> torch.Tensor:
        return self.blocks(channels_last_unflat(decoded, self.shape)).contiguous()


class DenseDecoder(nn.Module):
    """The bake-off's fully connected decoder, the encoder's mirror: the code through one
    dense block (linear, batch norm, ReLU) per entry of `units` (20 -> 113 -> 341), then a
    linear layer to the pixels with a sigmoid (`output: linear`: none, as DEC's autoencoder,
    trained on the squared error). `blocks` is a list (the last one is the output layer), so
    that the stacked autoencoder can run and train a suffix of it."""

    def __init__(self, latent: int, image_size: int = 28, units: tuple[int, ...] = (),
                 batch_norm: bool = True, output: str = "sigmoid"):
        super().__init__()
        self.image_size = image_size
        sizes = [latent, *units]
        blocks = [dense_block(a, b, batch_norm) for a, b in zip(sizes, sizes[1:])]
        last = nn.Linear(sizes[-1], image_size * image_size)  # after the blocks: the same weights at a seed
        self.blocks = nn.ModuleList([*blocks, nn.Sequential(last, nn.Sigmoid()) if output == "sigmoid" else nn.Sequential(last)])
        self.in_features = latent

    def forward(self, code: torch.Tensor, start: int = 0) -> torch.Tensor:
        for block in self.blocks[start:]:
            code = block(code)
        return code.view(-1, 1, self.image_size, self.image_size)
