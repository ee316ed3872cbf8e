"""Reconstruction error per image on the held-out and test images: BCE summed over pixels
(the bake-off's measure) and the squared error beside it; the model's own loss terms, with
the deterministic code (a VAE's posterior mean). Also reconstructions.png."""
from src.models.losses import bce_per_image, squared_error_per_image
from src.tasks.base import Task, splits
from src.tasks.pictures import save_reconstructions


class Reconstruction(Task):
    name = "reconstruction"
    needs = ("encode", "decode")

    def __call__(self, model, datamodule, run_dir) -> dict:
        results = {}
        for split, batches in splits(datamodule).items():
            if split == "train":
                continue
            bce = mse = n = 0.0
            for x, _ in batches:
                x_rec = model.decode(model.encode(x))
                bce += float(bce_per_image(x, x_rec).sum())
                mse += float(squared_error_per_image(x, x_rec).sum())
                n += len(x)
            results[split] = {"bce": bce / n, "mse": mse / n, "n": int(n)}
        save_reconstructions(model, datamodule.splits["test"][0], run_dir / "reconstructions.png")
        return {**results, "files": ["reconstructions.png"]}

    def trial_attrs(self, result: dict) -> dict:
        return {f"{split}_{score}": result[split][score] for split in ("val", "test") for score in ("bce", "mse")}
