import hashlib
import shutil

import pytest
import torch

from src.data import MD5, RAW_FILES, ImageDataModule, TensorBatches, ensure_raw_files
from src.runtime.errors import DataError
from tests.helpers.idx_data import N_TEST, N_TRAIN


def test_gz_only_folder_is_decompressed_to_the_published_files(real_data_dir, tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in RAW_FILES:
        src = real_data_dir / "MNIST" / "raw" / f"{f}.gz"
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
    n = limit or N_TRAIN
    assert len(dm.val_indices) == expected_val
    assert len(dm.fit_indices) == n - expected_val
    assert len(set(dm.val_indices.tolist()) | set(dm.fit_indices.tolist())) == n
    assert len(dm.splits["test"][1]) == min(limit or N_TEST, N_TEST)
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
    # two DDP ranks: 917 images, so the last of the shuffled order sits this epoch out
    shards = [order(0, rank, 2) for rank in (0, 1)]
    assert len(first) == 917 and len(shards[0]) == len(shards[1]) == 458
    assert torch.equal(torch.cat(shards).sort().values, first[:916].sort().values)


@pytest.mark.parametrize("n, world_size, batch_size", [(401, 2, 100), (917, 2, 64), (1000, 3, 100), (55_000, 8, 100),
                                                       (7, 4, 2), (250, 1, 100)])
def test_every_ddp_rank_runs_the_same_number_of_steps(n, world_size, batch_size):
    # Unequal counts would leave the ranks with more steps waiting in DDP's all-reduce for ever
    # (401 images on 2 ranks used to give 3 batches to one and 2 to the other).
    images, labels = torch.arange(n, dtype=torch.float32), torch.arange(n)
    seen, counts = [], []
    for rank in range(world_size):
        batches = TensorBatches(images, labels, torch.arange(n), batch_size, shuffle=True, seed=5,
                                rank=rank, world_size=world_size)
        ranks_labels = [y for _, y in batches]
        counts.append(len(ranks_labels))
        assert len(ranks_labels) == len(batches)
        seen += torch.cat(ranks_labels).tolist()
    assert len(set(counts)) == 1
    assert len(seen) == len(set(seen)) == n - n % world_size
