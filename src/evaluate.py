"""Loss terms and clustering metrics of a model over a whole split."""
import torch

from src.metrics import clustering_metrics


class SplitAccumulator:
    """Sums loss terms and collects cluster assignments batch by batch, on the device;
    `compute` reads them back once."""

    def __init__(self):
        self.sums: dict[str, torch.Tensor] = {}
        self.count = 0
        self.clusters: list[torch.Tensor] = []
        self.labels: list[torch.Tensor] = []

    def update(self, terms: dict, clusters: torch.Tensor, labels: torch.Tensor) -> None:
        n = len(labels)
        for key, value in terms.items():
            self.sums[key] = self.sums.get(key, 0) + value.detach().float() * n  # bf16 sums lose digits
        self.count += n
        self.clusters.append(clusters)
        self.labels.append(labels)

    def compute(self) -> dict[str, float]:
        result = {k: float(v) / self.count for k, v in self.sums.items()}
        clusters = torch.cat(self.clusters).cpu().numpy()
        labels = torch.cat(self.labels).cpu().numpy()
        result.update(clustering_metrics(clusters, labels))
        result["n"] = self.count
        return result


@torch.no_grad()
def evaluate(model, batches) -> dict[str, float]:
    """Loss terms (paper form) and acc / acc_majority / nmi / ari over `batches`."""
    was_training = model.training
    model.eval()
    acc = SplitAccumulator()
    for x, y in batches:
        acc.update(*model.eval_batch(x), y)
    model.train(was_training)
    return acc.compute()

