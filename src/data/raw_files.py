"""The raw IDX files of MNIST and Fashion-MNIST: found (plain or .gz), checked, unpacked or
downloaded, so that torchvision can decode them.

torchvision skips its download only when the *uncompressed* files are in `<root>/<Class>/raw/`;
a folder holding only the .gz files (as ../shared/data does) is unpacked first.
"""
import gzip
import os
import shutil
from pathlib import Path

from torchvision import datasets

from src.runtime import choices
from src.runtime.errors import DataError

RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
# config name -> torchvision class (whose __name__ is also the folder under data_dir)
DATASETS = {name: getattr(datasets, cls) for name, cls in choices.DATASETS.items()}
# md5 of the uncompressed files, as published (and listed in ../shared/data/README.md);
# quoted when a file is found damaged, so that a user can check a replacement.
MD5 = {
    "mnist": {"train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
              "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
              "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
              "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637"},
    "fashion_mnist": {"train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
                      "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
                      "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
                      "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965"},
}
IDX_MAGIC = {"images": 2051, "labels": 2049}  # IDX headers: 0x0803 (3-d ubyte), 0x0801 (1-d)


def raw_dir(root: str | Path, name: str) -> Path:
    return Path(root) / DATASETS[name].__name__ / "raw"


# Where gz-only data is unpacked when its own folder is read-only.
CACHE_ROOT = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "vae_cluster_sweep"


def decompress_gz_only(source: Path, target_dir: Path) -> None:
    """Unpack each X.gz of `source` whose X is missing from `target_dir`.

    torchvision skips its download only when the *uncompressed* files exist."""
    target_dir.mkdir(parents=True, exist_ok=True)
    for fname in RAW_FILES:
        target, packed = target_dir / fname, source / f"{fname}.gz"
        if not target.exists() and not (source / fname).exists() and packed.exists():
            # A name of its own per process: concurrent trials may unpack the same file.
            partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
            with gzip.open(packed, "rb") as src, open(partial, "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.replace(partial, target)


def idx_count(path: Path, kind: str) -> int:
    """The item count of an IDX file, after checking its magic number and its length."""
    with open(path, "rb") as f:
        header = f.read(16 if kind == "images" else 8)
    if len(header) < 8 or int.from_bytes(header[:4], "big") != IDX_MAGIC[kind]:
        raise ValueError(f"its IDX magic number is not {IDX_MAGIC[kind]} ({kind} file)")
    count = int.from_bytes(header[4:8], "big")
    expected = 16 + count * 28 * 28 if kind == "images" else 8 + count
    size = path.stat().st_size
    if size != expected:
        raise ValueError(f"it is {size:,} bytes where its header ({count:,} {kind}) needs {expected:,} "
                         "(truncated or padded)")
    return count


def check_idx_files(folder: Path, name: str) -> None:
    """Refuse damaged data with one paragraph naming the file and its expected md5."""
    for split in ("train", "t10k"):
        counts = {}
        for kind, suffix in (("images", "images-idx3-ubyte"), ("labels", "labels-idx1-ubyte")):
            path = folder / f"{split}-{suffix}"
            try:
                counts[kind] = idx_count(path, kind)
            except ValueError as exc:
                raise DataError(damaged(path, name, str(exc))) from None
        if counts["images"] != counts["labels"]:
            path = folder / f"{split}-labels-idx1-ubyte"
            raise DataError(damaged(path, name, f"it holds {counts['labels']:,} labels for "
                                                f"{counts['images']:,} images"))


def damaged(path: Path, name: str, what: str) -> str:
    return (f"Data file {path} is damaged: {what}. Replace it with the original (md5 of the "
            f"uncompressed file: {MD5[name][path.name]}), or delete it and its .gz so that it is "
            f"unpacked or downloaded again.")


def missing_files(folder: Path) -> list[str]:
    return [f for f in RAW_FILES if not (folder / f).exists()]


def ensure_raw_files(root: str | Path, name: str, download: bool) -> Path:
    """Make the four raw IDX files available, check them, and return the root to hand torchvision.

    That is `root` itself, unless its raw/ folder holds only .gz files and is read-only:
    then they are unpacked into CACHE_ROOT, which is returned. Raises one clear DataError
    when the files are missing and cannot be downloaded, or are damaged."""
    found = _raw_files_root(root, name, download)
    check_idx_files(raw_dir(found, name), name)
    return found


def _raw_files_root(root: str | Path, name: str, download: bool) -> Path:
    folder = raw_dir(root, name)
    if folder.is_dir() and missing_files(folder):
        try:
            decompress_gz_only(folder, folder)
        except PermissionError:
            decompress_gz_only(folder, raw_dir(CACHE_ROOT, name))
            if not missing_files(raw_dir(CACHE_ROOT, name)):
                return CACHE_ROOT
    if not missing_files(folder):
        return Path(root)
    reason = "dataset.download=false"
    if download:
        try:
            for train in (True, False):
                DATASETS[name](str(root), train=train, download=True)
            return Path(root)
        except Exception as exc:  # no network, mirror down, disk full...
            reason = f"the download failed ({type(exc).__name__}: {exc})"
    raise DataError(
        f"Dataset '{name}' is missing {', '.join(missing_files(folder))} in {folder.resolve()} "
        f"and {reason}. Put the four IDX files there (plain or as .gz), or point data_dir "
        f"(or the DATA_DIR environment variable) at a folder holding "
        f"{DATASETS[name].__name__}/raw/, or run once with internet access so torchvision "
        f"downloads them."
    )
