"""Anomaly detection (the bake-off's protocol): a model trained without one class
(`dataset.exclude_class`) scores every test image by its reconstruction error, BCE summed
over pixels (and the squared error beside it), with the deterministic code; the left-out
class is the anomaly. ROC AUC and the ROC curve (scikit-learn), anomaly_roc.png. Labels are
used only to score. Skipped for a run that trained on every class."""
import numpy as np
import torch

from src.models.losses import bce_per_image, squared_error_per_image
from src.tasks.base import Task, splits


class Anomaly(Task):
    name = "anomaly"
    needs = ("encode", "decode")

    def unavailable(self, model, datamodule) -> str | None:
        if datamodule.exclude_class is None:
            return "the model was trained on every class (set dataset.exclude_class to the anomaly's class)"
        return super().unavailable(model, datamodule)

    def __call__(self, model, datamodule, run_dir) -> dict:
        from sklearn.metrics import roc_auc_score, roc_curve

        scores = {"bce": [], "mse": []}
        labels = []
        for x, y in splits(datamodule, ("test",))["test"]:
            x_rec = model.decode(model.encode(x))
            scores["bce"].append(bce_per_image(x, x_rec))
            scores["mse"].append(squared_error_per_image(x, x_rec))
            labels.append(y)
        anomalous = (torch.cat(labels) == datamodule.exclude_class).cpu().numpy()
        scores = {k: torch.cat(v).double().cpu().numpy() for k, v in scores.items()}
        auc = float(roc_auc_score(anomalous, scores["bce"]))
        fpr, tpr, _ = roc_curve(anomalous, scores["bce"])
        save_roc(fpr, tpr, auc, datamodule.classes[datamodule.exclude_class], run_dir / "anomaly_roc.png")
        return {"test": {"auc": auc,
                         "auc_mse": float(roc_auc_score(anomalous, scores["mse"])),
                         "anomalies": int(anomalous.sum()), "n": len(anomalous)},
                "anomaly": datamodule.classes[datamodule.exclude_class], "files": ["anomaly_roc.png"]}

    def trial_attrs(self, result: dict) -> dict:
        return {"anomaly_test_auc": result["test"]["auc"]}


def save_roc(fpr: np.ndarray, tpr: np.ndarray, auc: float, anomaly: str, path) -> None:
    import matplotlib.pyplot as plt

    import src.tasks.pictures  # noqa: F401  (matplotlib's Agg backend)

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot(fpr, tpr, label=f"reconstruction BCE (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.set_xlabel("false positive rate"), ax.set_ylabel("true positive rate")
    ax.set_title(f"anomaly: '{anomaly}'")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
