"""MNIST and Fashion-MNIST: raw files (raw_files.py) and the data module (datamodule.py).

`src.data.ImageDataModule` is the `_target_` of conf/dataset/ and of the config.yaml of
every run directory written so far.
"""
from src.data.datamodule import ImageDataModule, TensorBatches
from src.data.raw_files import DATASETS, MD5, RAW_FILES, decompress_gz_only, ensure_raw_files, raw_dir

__all__ = ["DATASETS", "MD5", "RAW_FILES", "ImageDataModule", "TensorBatches", "decompress_gz_only",
           "ensure_raw_files", "raw_dir"]
