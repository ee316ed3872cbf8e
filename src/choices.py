"""The values a config key may take where it names something, in one place.

Free of torch, torchvision and Lightning, which take seconds to import: the config check
(src/config_check.py) reads these in every process, including those that never train
(`--cfg job`, a refused config, a sweep with nothing left to run).
"""
# dataset.name -> the torchvision.datasets class (its name is also the folder under data_dir)
DATASETS = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}
PRIORS = ("learned", "standard")  # model.prior (src/models/clustering_vae.py)
KL_ESTIMATORS = ("analytic", "sampled")  # model.kl_estimator (src/models/loss.py)
