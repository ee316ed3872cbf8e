"""Reconstruction error per image on the held-out and test images: BCE summed over pixels
(the bake-off's measure) and the squared error beside it; the model's own loss terms, with
the deterministic code (a VAE's posterior mean). Also reconstructions.png."""
from src.models.losses import bce_per_image, squared_error_per_image
from src.tasks.base import Task, splits
from src.tasks.pictures import save_reconstructions
from src.tasks.scores import SplitAccumulator


class Reconstruction(Task):
    name = "reconstruction"
    needs = ("encode", "decode")

    def __call__(self, model, datamodule, run_dir) -> dict:
        results = {}
        for split, batches in splits(datamodule, ("val", "test")).items():
            acc = SplitAccumulator()
            for x, y in batches:
                x_rec = model.decode(model.encode(x))
                acc.update({"bce": bce_per_image(x, x_rec).mean(), "mse": squared_error_per_image(x, x_rec).mean()},
                           None, y)
            results[split] = acc.compute()
        save_reconstructions(model, datamodule.splits["test"][0], run_dir / "reconstructions.png")
        return {**results, "files": ["reconstructions.png"]}

    def trial_attrs(self, result: dict) -> dict:
        return {f"{split}_{score}": result[split][score] for split in ("val", "test") for score in ("bce", "mse")}
