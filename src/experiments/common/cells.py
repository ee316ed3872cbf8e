"""How every report writes its cells: data set titles, "not run", a score over seeds.

A score over seeds is "mean ± std", the value alone for one seed, "not run" for none: from the
seeds' values (`mean_std`), or from a table's `<score> mean` and `<score> std` columns beside
its `seeds` (`cell`, `cells`; Table 1's rows and the levers' ablation)."""
import pandas as pd

NOT_RUN = "not run"
DATASET_TITLES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}


def spread(mean: float, std: float, seeds: int, digits: int) -> str:
    if seeds == 0:
        return NOT_RUN
    return f"{mean:.{digits}f}" if seeds == 1 else f"{mean:.{digits}f} ± {std:.{digits}f}"


def mean_std(values: pd.Series, digits: int) -> str:
    """The seeds' values, NaN left out."""
    values = values.dropna()
    return spread(values.mean(), values.std(), len(values), digits)


def cell(row: pd.Series, column: str, prefix: str = "", digits: int = 2) -> str:
    """A table row's score, its seeds counted in `<prefix>seeds`."""
    return spread(row[f"{column} mean"], row[f"{column} std"], row[f"{prefix}seeds"], digits)


def cells(frame: pd.DataFrame, column: str, prefix: str = "", digits: int = 2) -> list[str]:
    """`cell` for every row of the frame."""
    return [cell(row, column, prefix, digits) for _, row in frame.iterrows()]
