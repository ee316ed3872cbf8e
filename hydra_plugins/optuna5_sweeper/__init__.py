"""A Hydra sweeper on Optuna >= 5, with the config schema of `hydra-optuna-sweeper`.

Select it with `hydra/sweeper=optuna`. Apps that want per-epoch pruning or extra trial
attributes call `hydra_plugins.optuna5_sweeper.trial_context.current_trial()` from inside
the job. Hydra imports every public module of this package when it scans for plugins, so
only the private ones (skipped by the scan) import Optuna at the top: `_runner.py` (the sweep
and its loop), `_claims.py` (budgets, claims, stale trials), `_output.py` (progress, summary,
results file), `_supervisor.py` (workers), `_shared.py`, `_search_space.py`, `_heartbeat.py`. Public seams for code built on the sweeper: `storage`
(open_storage, masked, GRID_SIZE_ATTR), `signals` (signals_as_interrupt) and `trial_context`.
"""
