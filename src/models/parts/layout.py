"""Sizes and memory layout shared by the conv encoder and decoder."""
import math

import torch


def pooled_sizes(size: int, layers: int) -> list[int]:
    """Spatial sizes through `layers` ceil-mode 2x2 poolings: 28 -> 14 -> 7 -> 4 -> 2 -> 1 -> 1."""
    sizes = [size]
    for _ in range(layers):
        sizes.append(math.ceil(sizes[-1] / 2))
    return sizes


def channels_last_flat(h: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, H * W * C); a view when `h` is channels-last."""
    return h.permute(0, 2, 3, 1).flatten(1)


def channels_last_unflat(v: torch.Tensor, shape: tuple[int, int, int]) -> torch.Tensor:
    """The inverse of `channels_last_flat`: (N, H * W * C) -> channels-last (N, C, H, W), a view."""
    channels, height, width = shape
    return v.view(-1, height, width, channels).permute(0, 3, 1, 2)


def channel_first_order(shape: tuple[int, int, int]) -> torch.Tensor:
    """Where `channels_last_flat` puts each element of a vector in (channel, height, width)
    order, the order checkpoints of the clustering VAE's version 1 used."""
    return channels_last_flat(torch.arange(math.prod(shape)).view(1, *shape))[0]
