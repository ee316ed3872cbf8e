"""A Hydra sweeper on Optuna >= 5, with the config schema of `hydra-optuna-sweeper`.

Select it with `hydra/sweeper=optuna`. Apps that want per-epoch pruning or extra trial
attributes call `hydra_plugins.optuna5_sweeper.trial_context.current_trial()` from inside
the job. Hydra imports every module of this package when it scans for plugins, so only
`_runner.py` and `_search_space.py` (skipped by the scan) import Optuna.
"""
