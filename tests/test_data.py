import hashlib
import shutil

import pytest
import torch

from src.data import MD5, RAW_FILES, ImageDataModule, ensure_raw_files
from src.errors import DataError


def test_gz_only_folder_is_decompressed(data_dir, tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in RAW_FILES:
        src = data_dir / "MNIST" / "raw" / f"{f}.gz"
        if not src.exists():
            pytest.skip(f"{src} not found")
        shutil.copy(src, raw)
    assert ensure_raw_files(tmp_path, "mnist", download=False) == tmp_path
    for name, md5 in MD5["mnist"].items():  # the digests of ../shared/data/README.md
        assert hashlib.md5((raw / name).read_bytes()).hexdigest() == md5
    dm = ImageDataModule("mnist", str(tmp_path), limit=500)
    dm.setup(device=torch.device("cpu"))
    assert dm.splits["test"][0].shape == (500, 1, 28, 28)


def test_missing_files_give_one_clear_error(tmp_path):
    (tmp_path / "FashionMNIST" / "raw").mkdir(parents=True)
    (tmp_path / "FashionMNIST" / "raw" / "train-labels-idx1-ubyte").write_bytes(b"")
    with pytest.raises(DataError) as err:
        ensure_raw_files(tmp_path, "fashion_mnist", download=False)
    message = str(err.value)
    assert "\n" not in message
    assert str(tmp_path / "FashionMNIST" / "raw") in message
    for f in ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        assert f in message
    assert "train-labels-idx1-ubyte," not in message


@pytest.mark.parametrize("limit, expected_val", [(None, 5000), (6000, 500), (512, 100)])
def test_hold_out_shrinks_with_limit_but_not_below_a_batch(data_dir, limit, expected_val):
    dm = ImageDataModule("mnist", str(data_dir), batch_size=100, limit=limit, seed=3)
    dm.setup(device=torch.device("cpu"))
    n = limit or 60_000
    assert len(dm.val_indices) == expected_val
    assert len(dm.fit_indices) == n - expected_val
    assert len(set(dm.val_indices.tolist()) | set(dm.fit_indices.tolist())) == n
    assert len(dm.splits["test"][1]) == (limit or 10_000)
    assert 0.0 <= float(dm.splits["train"][0].min()) and float(dm.splits["train"][0].max()) <= 1.0


def test_training_batches_cover_each_image_once_in_a_seeded_order(data_dir):
    dm = ImageDataModule("mnist", str(data_dir), batch_size=64, limit=1000, seed=1)
    dm.setup(device=torch.device("cpu"))
    images, _ = dm.splits["train"]

    def order(epoch, rank=0, world_size=1):
        batches = dm.batches("train", dm.fit_indices, batch_size=64, shuffle=True, seed=1,
                             epoch=lambda: epoch, rank=rank, world_size=world_size)
        xs = [x for x, _ in batches]
        assert len(xs) == len(batches)
        return torch.cat(xs).flatten(1).sum(1)

    first = order(0)
    assert len(first) == len(dm.fit_indices)
    assert torch.equal(first.sort().values, images[dm.fit_indices].flatten(1).sum(1).sort().values)
    assert torch.equal(first, order(0))
    assert not torch.equal(first, order(1))
    shards = torch.cat([order(0, rank, 2) for rank in (0, 1)])
    assert torch.equal(shards.sort().values, first.sort().values)
