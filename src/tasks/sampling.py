"""Images from the prior: 16 images decoded from codes drawn from the model's prior
(N(0, I) for the VAEs, codebook entries for the vq-VAE, N(mu_y, I) of each class in turn for
the clustering VAEs), as samples.png. A model without a prior has the task skipped."""
import torch

from src.tasks.base import Task
from src.tasks.pictures import save_rows

COUNT = 16


class Sampling(Task):
    name = "sampling"
    needs = ("sample",)

    def __call__(self, model, datamodule, run_dir) -> dict:
        images = model.sample(COUNT, generator=torch.Generator().manual_seed(datamodule.seed))
        images = images.reshape(-1, *images.shape[-2:])  # a mixture prior gives COUNT per class
        picked = torch.linspace(0, len(images) - 1, COUNT).round().long()
        save_rows([("prior samples", images[picked.to(images.device)].cpu().numpy())],
                  run_dir / "samples.png", COUNT)
        return {"files": ["samples.png"], "count": COUNT}
