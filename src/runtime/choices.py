"""The values a config key may take where it names something, in one place.

Free of torch, torchvision and Lightning, which take seconds to import: the config check
(src/runtime/config_check.py) reads these in every process, including those that never train
(`--cfg job`, a refused config, a sweep with nothing left to run). A model part's keys are
checked by src/models/rules.py.
"""
# dataset.name -> the torchvision.datasets class (its name is also the folder under data_dir)
DATASETS = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}
NUM_CLASSES = 10  # both data sets have ten classes
