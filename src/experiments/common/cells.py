"""How every report writes its cells: data set titles, "not run", a score over seeds."""
import pandas as pd

NOT_RUN = "not run"
DATASET_TITLES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}


def mean_std(values: pd.Series, digits: int) -> str:
    """mean ± std over the seeds' values (NaN left out), the value alone for one seed, or not run."""
    values = values.dropna()
    if values.empty:
        return NOT_RUN
    if len(values) == 1:
        return f"{values.iloc[0]:.{digits}f}"
    return f"{values.mean():.{digits}f} ± {values.std():.{digits}f}"
