"""MNIST / Fashion-MNIST held as whole tensors on the training device.

Each split is decoded once by torchvision into one uint8 tensor, scaled to [0, 1]
floats and moved to the device; batches are taken by index. There is no per-sample
Python transform and no worker process on the hot path.
"""
import pytorch_lightning as pl
import torch

from src.data.raw_files import DATASETS, ensure_raw_files


class TensorBatches:
    """An iterable of (images, labels) batches gathered by index from device tensors.

    `epoch` is read at each pass so that a shuffled order depends only on (seed, epoch):
    runs are reproducible and a resumed run sees the same order it would have seen.
    Under DDP each rank takes every world_size-th index of the shuffled order, and the last
    len % world_size indices are left out of the pass: every rank must run as many steps,
    or the ranks with more wait forever in the gradients' all-reduce.
    """

    def __init__(self, images, labels, indices, batch_size, shuffle=False, seed=0,
                 epoch=lambda: 0, rank=0, world_size=1):
        self.images, self.labels, self.indices = images, labels, indices
        self.batch_size, self.shuffle, self.seed, self.epoch = batch_size, shuffle, seed, epoch
        self.rank, self.world_size = rank, world_size

    def __len__(self) -> int:
        return -(-(len(self.indices) // self.world_size) // self.batch_size)

    def __iter__(self):
        idx = self.indices
        if self.shuffle:
            gen = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch())
            idx = idx[torch.randperm(len(idx), generator=gen).to(idx.device)]
        idx = idx[self.rank:len(idx) - len(idx) % self.world_size:self.world_size]
        for start in range(0, len(idx), self.batch_size):
            batch = idx[start:start + self.batch_size]
            yield self.images[batch], self.labels[batch]


class ImageDataModule(pl.LightningDataModule):
    """One of DATASETS, with a seeded validation hold-out taken from the training split.

    `limit` keeps the first N images of each split (smoke tests); the hold-out then
    shrinks in proportion to the kept fraction, but never below one batch.
    `image_size` pads the 28x28 images with zeros to that size (32: the bake-off's inputs,
    whose reconstruction error counts 1,024 pixels). `exclude_class` (a class index) leaves
    that class out of the training and validation images, not of the test set: the
    anomaly-detection protocol, where the left-out class is the anomaly.
    """

    def __init__(self, name: str, root: str, batch_size: int = 100, val_size: int = 5000,
                 limit: int | None = None, seed: int = 0, download: bool = True,
                 eval_batch_size: int = 1000, image_size: int = 28, exclude_class: int | None = None):
        super().__init__()
        self.name, self.root, self.batch_size = name, root, batch_size
        self.val_size, self.limit, self.seed = val_size, limit, seed
        self.download, self.eval_batch_size = download, eval_batch_size
        self.image_size, self.exclude_class = image_size, exclude_class
        self.classes: list[str] = list(DATASETS[name].classes)
        self.splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def prepare_data(self) -> None:
        ensure_raw_files(self.root, self.name, self.download)

    def held_out_size(self, n_train: int) -> int:
        if self.limit is None or self.val_size == 0:
            return self.val_size
        return max(self.batch_size, round(self.val_size * n_train / 60_000))

    def setup(self, stage: str | None = None, device: torch.device | None = None) -> None:
        if self.splits:
            return
        if device is None:
            device = self.trainer.strategy.root_device if self.trainer else torch.device("cpu")
        root = ensure_raw_files(self.root, self.name, download=False)  # no-op after prepare_data
        for split, train in (("train", True), ("test", False)):
            ds = DATASETS[self.name](str(root), train=train, download=False)
            images, labels = ds.data[: self.limit], ds.targets[: self.limit]
            images = images.to(device).unsqueeze(1).float().div_(255.0)
            pad = (self.image_size - images.shape[-1]) // 2
            self.splits[split] = (torch.nn.functional.pad(images, (pad,) * 4) if pad else images, labels.to(device))
        n_train = len(self.splits["train"][1])
        order = torch.randperm(n_train, generator=torch.Generator().manual_seed(self.seed))
        n_val = self.held_out_size(n_train)
        self.val_indices = self.kept(order[:n_val].sort().values.to(device))
        self.fit_indices = self.kept(order[n_val:].sort().values.to(device))

    def kept(self, indices: torch.Tensor) -> torch.Tensor:
        """`indices` without the images of `exclude_class`."""
        if self.exclude_class is None:
            return indices
        return indices[self.splits["train"][1][indices] != self.exclude_class]

    def batches(self, split: str, indices=None, **kwargs) -> TensorBatches:
        images, labels = self.splits[split]
        if indices is None:
            indices = torch.arange(len(labels), device=labels.device)
        kwargs.setdefault("batch_size", self.eval_batch_size)
        return TensorBatches(images, labels, indices, **kwargs)

    def train_dataloader(self) -> TensorBatches:
        return self.batches(
            "train", self.fit_indices, batch_size=self.batch_size, shuffle=True, seed=self.seed,
            epoch=lambda: self.trainer.current_epoch,
            rank=self.trainer.global_rank, world_size=self.trainer.world_size,
        )

    def val_dataloader(self) -> TensorBatches:
        return self.batches("train", self.val_indices)
