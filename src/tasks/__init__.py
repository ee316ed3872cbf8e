"""Evaluations of a trained model, one module each, one contract (src/tasks/base.py).

`tasks` in conf/train.yaml lists a run's tasks; each result is stored in the run's
metrics.json under the task's name. `python -m src.evaluate run=<run dir>` runs them again
on a finished run. A new task: its module here, and its name below.
"""
# name -> class; strings, so that the config check can read the names without importing torch
TASKS = {
    "loss": "src.tasks.loss.Loss",
    "clustering": "src.tasks.clustering.Clustering",
    "pictures": "src.tasks.pictures.Pictures",
    "reconstruction": "src.tasks.reconstruction.Reconstruction",
    "kmeans": "src.tasks.kmeans.KMeansOnCode",
    "kmeans_pixels": "src.tasks.kmeans.KMeansOnPixels",
    "sampling": "src.tasks.sampling.Sampling",
    "interpolation": "src.tasks.interpolation.Interpolation",
    "latent_map": "src.tasks.latent_map.LatentMap",
    "anomaly": "src.tasks.anomaly.Anomaly",
    "linear_probe": "src.tasks.linear_probe.LinearProbe",
}
