"""Interpolation: the codes of two test images of different classes (the first test image
and the first after it with another label), the straight line between them decoded at
STEPS evenly spaced points, as interpolation.png (the two inputs at the ends)."""
import torch

from src.tasks.base import Task
from src.tasks.pictures import save_rows

STEPS = 10


class Interpolation(Task):
    name = "interpolation"
    needs = ("encode", "decode")

    def __call__(self, model, datamodule, run_dir) -> dict:
        images, labels = datamodule.splits["test"]
        first = 0
        other = int(torch.nonzero(labels != labels[first])[0])
        start, end = model.encode(images[[first, other]])
        t = torch.linspace(0, 1, STEPS, device=start.device).unsqueeze(1)
        decoded = model.decode((1 - t) * start + t * end)
        strip = torch.cat([images[[first]], decoded, images[[other]]])[:, 0].cpu().numpy()
        save_rows([("interpolation", strip)], run_dir / "interpolation.png", STEPS + 2)
        return {"files": ["interpolation.png"], "test_images": [first, other],
                "labels": [datamodule.classes[int(labels[i])] for i in (first, other)]}
