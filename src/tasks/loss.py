"""The model's loss terms, averaged over each split.

`loss` is what training minimised. A model whose training adds terms outside a published
form (the clustering VAE's levers) reports that form as `paper_loss`, and the trial
attributes (`<split>_loss`, Table 1's loss column) carry it."""
from src.tasks.base import Task, splits
from src.tasks.scores import SplitAccumulator


class Loss(Task):
    name = "loss"

    def __call__(self, model, datamodule, run_dir) -> dict:
        results = {}
        for split, batches in splits(datamodule).items():
            acc = SplitAccumulator()
            for x, y in batches:
                acc.update(model.loss_terms(x), None, y)
            results[split] = acc.compute()
        return results

    def trial_attrs(self, result: dict) -> dict:
        return {f"{split}_loss": scores.get("paper_loss", scores["loss"]) for split, scores in result.items()}
