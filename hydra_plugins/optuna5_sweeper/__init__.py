"""A Hydra sweeper on Optuna >= 5, with the config schema of `hydra-optuna-sweeper`.

Select it with `hydra/sweeper=optuna`. Apps that want per-epoch pruning or extra trial
attributes call `hydra_plugins.optuna5_sweeper.trial_context.current_trial()` from inside
the job. Hydra imports every public module of this package when it scans for plugins, so
only the private ones (`_runner.py`, `_search_space.py`, `_heartbeat.py`; skipped by the scan)
import Optuna at the top. Public seams for code built on the sweeper: `storage`
(open_storage, masked, GRID_SIZE_ATTR), `signals` (signals_as_interrupt) and `trial_context`.
"""
