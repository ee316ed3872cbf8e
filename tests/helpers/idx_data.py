"""A small MNIST-like data set in torchvision's layout, so that the real loading code runs
without the real data: `<root>/MNIST/raw/` and `<root>/FashionMNIST/raw/`, the four IDX files
of each gzip-compressed (as ../shared/data holds them), 10 classes.

Each class is a blurred random pattern; an image is its class's pattern shifted by up to
2 pixels, with noise: different enough between classes that a model can cluster them.
"""
import gzip
from pathlib import Path

import numpy as np

FOLDERS = ("MNIST", "FashionMNIST")
N_TRAIN, N_TEST = 6000, 2000


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX format: magic 0x0803 (3-d ubyte images) or 0x0801 (1-d ubyte labels), big-endian sizes."""
    magic = 2051 if array.ndim == 3 else 2049
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def class_patterns(rng: np.random.Generator, classes: int = 10, size: int = 28) -> np.ndarray:
    patterns = (rng.random((classes, size, size)) < 0.12).astype(np.float32)
    for _ in range(2):  # a 3x3 box blur, twice: blobs and strokes rather than salt
        padded = np.pad(patterns, ((0, 0), (1, 1), (1, 1)))
        patterns = sum(padded[:, i:i + size, j:j + size] for i in range(3) for j in range(3)) / 9
    return patterns / patterns.max(axis=(1, 2), keepdims=True)


def images_of(patterns: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    shifts = rng.integers(-2, 3, size=(len(labels), 2))
    images = np.stack([np.roll(patterns[y], tuple(s), axis=(0, 1)) for y, s in zip(labels, shifts)])
    images = images + rng.normal(0, 0.1, images.shape)
    return (np.clip(images, 0, 1) * 255).round()


def write_idx_dataset(root: Path, n_train: int = N_TRAIN, n_test: int = N_TEST, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for offset, folder in enumerate(FOLDERS):
        patterns = class_patterns(np.random.default_rng(seed + offset))
        raw = Path(root) / folder / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        for split, n in (("train", n_train), ("t10k", n_test)):
            labels = rng.integers(0, 10, n)
            for kind, array in (("images-idx3-ubyte", images_of(patterns, labels, rng)), ("labels-idx1-ubyte", labels)):
                (raw / f"{split}-{kind}.gz").write_bytes(gzip.compress(idx_bytes(array), compresslevel=1))
    return Path(root)
