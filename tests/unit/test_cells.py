"""The cell every report writes for a score over seeds."""
import numpy as np
import pandas as pd

from src.experiments.common.cells import NOT_RUN, mean_std


def test_mean_std_over_seeds_leaves_out_missing_values():
    assert mean_std(pd.Series([60.0, 62.0, np.nan, 64.0]), 2) == "62.00 ± 2.00"


def test_one_seed_shows_its_value_and_none_says_not_run():
    assert mean_std(pd.Series([0.61234, np.nan]), 3) == "0.612"
    assert mean_std(pd.Series([np.nan]), 2) == NOT_RUN
    assert mean_std(pd.Series(dtype=float), 2) == NOT_RUN
