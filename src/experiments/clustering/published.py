"""The published numbers beside each row of the clustering table, each with its own protocol
(../shared/SPEC.md sections 1-3 and 6). "70k": trained and scored on the 70,000 training and
test images together; "test": trained on the training images, scored on the 10,000 test images.
ACC is Hungarian unless the text says majority vote."""
from src.experiments.table1 import paper

DEC_KERAS = "XifengGuo/DEC-keras, 70k"


def table1_row(latent: int) -> dict[str, str]:
    """The paper's Table 1 row at s=`latent`, for each data set that has one."""
    return {r.dataset: f"{r.acc_test:g}% at s={r.latent}, n={r.layers}, m={r.hidden} (Yan 2020 Table 1, test, "
                       "majority vote presumably)"
            for r in paper.TABLE1 if r.latent == latent}


PUBLISHED = {
    "kmeans_pixels": {"mnist": f"ACC 53%, NMI 0.50 ({DEC_KERAS}, mean of 10); seed 003: NMI 0.50",
                      "fashion_mnist": f"ACC 47%, NMI 0.51 ({DEC_KERAS}, mean of 10)"},
    "seed003_ae": {"mnist": "seed 003: NMI 0.74"},
    "dec_keras_ae": {"mnist": "ACC 87.9 ± 3.8%, NMI 0.807 (DEC-keras, 70k, 300 epochs)",
                     "fashion_mnist": "ACC 60.6 ± 2.8%, NMI 0.637 (DEC-keras, 70k, 300 epochs)"},
    "dec": {"mnist": "84.3% (DEC's paper, 70k; the number Yan 2020 quotes); re-runs 91.2 ± 4.7% (DEC-keras, 70k), "
                     "about 85% (vlukiyanov/pt-dec, 60k train)",
            "fashion_mnist": "61.8 ± 3.6% (DEC-keras, 70k)"},
    "idec": {"mnist": "88.1% (IDEC's paper, 70k)"},
    "seed001": {"mnist": "about 83% (majority vote, test; its post's current text), 84.5% before its code changed",
                "fashion_mnist": "about 58.5% (majority vote, test; its post's current text), 60.6% before"},
    "flat_vae": {d: f"peak {b.acc:g}% at s={b.latent}, m={b.hidden} (Yan 2020, test, majority vote presumably)"
                 for d, b in paper.FLAT_BASELINE.items()},
    "conv_vae": table1_row(50),
    "conv_vae_s60": table1_row(60),
}


def published(key: str | None, dataset: str) -> str:
    return "—" if key is None else PUBLISHED[key].get(dataset, "—")
