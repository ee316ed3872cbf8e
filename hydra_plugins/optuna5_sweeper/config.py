"""Structured configs: `hydra/sweeper=optuna`, `hydra/sweeper/sampler=...`, `hydra/sweeper/pruner=...`.

The keys are those of the official `hydra-optuna-sweeper` 1.3 (params, sampler, direction,
storage, study_name, n_trials, n_jobs, max_failure_rate, custom_search_space), so that its
configs move over unchanged; `pruner`, `trials_per_gpu` and `gpus` are additions.
"""
import importlib.util
import warnings
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

PROVIDER = "optuna5_sweeper"
OFFICIAL_PLUGIN = "hydra_plugins.hydra_optuna_sweeper"


def official_plugin_installed() -> bool:
    try:
        return importlib.util.find_spec(OFFICIAL_PLUGIN) is not None
    except ModuleNotFoundError:
        return False


CONFLICT_MESSAGE = (
    "hydra-optuna-sweeper (the official plugin, which pins optuna<3) and this project's "
    "optuna5_sweeper are both installed. Both register hydra/sweeper=optuna, so which one "
    "runs depends on import order. They must not be installed together: "
    "`pip uninstall hydra-optuna-sweeper`."
)


@dataclass
class SamplerConfig:
    _target_: str = MISSING
    seed: Optional[int] = None


@dataclass
class TPESamplerConfig(SamplerConfig):
    _target_: str = "optuna.samplers.TPESampler"
    consider_prior: Optional[bool] = None
    prior_weight: Optional[float] = None
    consider_magic_clip: Optional[bool] = None
    consider_endpoints: Optional[bool] = None
    n_startup_trials: int = 10
    n_ei_candidates: int = 24
    multivariate: Optional[bool] = None
    group: bool = False
    warn_independent_sampling: Optional[bool] = None
    constant_liar: bool = True


@dataclass
class RandomSamplerConfig(SamplerConfig):
    _target_: str = "optuna.samplers.RandomSampler"


@dataclass
class GridSamplerConfig(SamplerConfig):
    """The grid is the product of the `params`' values (choice and range only).

    Points are dispatched through Optuna's trial queue, so several workers on one study
    run each point once; `search_space` is accepted for compatibility and must be empty.
    """
    _target_: str = "optuna.samplers.GridSampler"
    search_space: Optional[Dict[str, Any]] = None


@dataclass
class CmaEsSamplerConfig(SamplerConfig):
    _target_: str = "optuna.samplers.CmaEsSampler"
    x0: Optional[Dict[str, Any]] = None
    sigma0: Optional[float] = None
    n_startup_trials: int = 1
    warn_independent_sampling: bool = True
    consider_pruned_trials: bool = False
    restart_strategy: Optional[str] = None
    popsize: Optional[int] = None
    inc_popsize: int = -1
    use_separable_cma: bool = False
    with_margin: bool = False
    lr_adapt: bool = False
    independent_sampler: Optional[Any] = None  # a sampler node (`_target_: optuna.samplers...`)
    source_trials: Optional[Any] = None


@dataclass
class NSGAIISamplerConfig(SamplerConfig):
    _target_: str = "optuna.samplers.NSGAIISampler"
    population_size: int = 50
    mutation_prob: Optional[float] = None
    crossover_prob: float = 0.9
    swapping_prob: float = 0.5
    constraints_func: Optional[str] = None  # dotted path of a function (FrozenTrial) -> constraint values


@dataclass
class QMCSamplerConfig(SamplerConfig):
    _target_: str = "optuna.samplers.QMCSampler"
    qmc_type: str = "sobol"
    scramble: bool = False
    warn_asynchronous_seeding: bool = True
    warn_independent_sampling: bool = True
    independent_sampler: Optional[Any] = None


@dataclass
class GPSamplerConfig(SamplerConfig):
    """Gaussian-process Bayesian optimisation (Optuna's GPSampler)."""
    _target_: str = "optuna.samplers.GPSampler"
    independent_sampler: Optional[Any] = None
    n_startup_trials: int = 10
    deterministic_objective: bool = False
    constraints_func: Optional[str] = None  # dotted path, as for nsgaii
    warn_independent_sampling: bool = True


@dataclass
class MOTPESamplerConfig(SamplerConfig):
    """Kept so that configs naming it get a paragraph: Optuna removed MOTPESampler (3.x)."""
    _target_: str = "optuna.samplers.MOTPESampler"


@dataclass
class NopPrunerConfig:
    _target_: str = "optuna.pruners.NopPruner"


@dataclass
class MedianPrunerConfig:
    _target_: str = "optuna.pruners.MedianPruner"
    n_startup_trials: int = 5
    n_warmup_steps: int = 0
    interval_steps: int = 1
    n_min_trials: int = 1


@dataclass
class HyperbandPrunerConfig:
    _target_: str = "optuna.pruners.HyperbandPruner"
    min_resource: int = 1
    max_resource: Any = "auto"
    reduction_factor: int = 3
    bootstrap_count: int = 0


@dataclass
class ThresholdPrunerConfig:
    """Prunes a trial whose reported value leaves [lower, upper]."""
    _target_: str = "optuna.pruners.ThresholdPruner"
    lower: Optional[float] = None
    upper: Optional[float] = None
    n_warmup_steps: int = 0
    interval_steps: int = 1


@dataclass
class OptunaSweeperConf:
    _target_: str = "hydra_plugins.optuna5_sweeper.optuna_sweeper.OptunaSweeper"
    # The sweeper instantiates sampler and pruner itself (the grid needs the params first).
    _recursive_: bool = False
    defaults: List[Any] = field(default_factory=lambda: [{"sampler": "tpe"}, {"pruner": "none"}])

    sampler: Any = MISSING
    pruner: Any = MISSING
    # "minimize" / "maximize", or a list of them for a multi-objective study
    # (the task function then returns one value per direction).
    direction: Any = "minimize"
    # A name per objective (Optuna's set_metric_names), shown by optuna-dashboard, in
    # trials_dataframe() and in the summary; null: Optuna's "Objective 0", ...
    metric_names: Optional[Any] = None
    # An Optuna storage URL (sqlite:///path.db, postgresql://user:pw@host/db, ...);
    # null keeps the study in memory, for this process only.
    storage: Optional[Any] = None
    study_name: Optional[str] = None
    # Trials the study should hold when done (COMPLETE and PRUNED ones from earlier runs
    # count, so re-running resumes); null with the grid sampler: the whole grid.
    n_trials: Optional[int] = 20
    # Trials at once on this machine; null: one per GPU slot (gpus x trials_per_gpu), or 1.
    n_jobs: Optional[int] = 1
    # Share of the planned trials allowed to FAIL before the sweep stops (0: the first failure).
    max_failure_rate: float = 0.0
    # Dotted path of a function (cfg, trial) -> None that suggests further parameters.
    custom_search_space: Optional[str] = None
    params: Optional[Dict[str, Any]] = None
    # The official plugin's 1.2 form of the search space: refused with how to write it as params.
    search_space: Optional[Any] = None
    # A running trial's worker renews its heartbeat every heartbeat_interval seconds; a
    # trial without one for grace_period (null: 4 intervals) is failed and its point retried.
    heartbeat_interval: float = 30
    grace_period: Optional[float] = None
    # GPUs to pin trials to, round-robin (null: CUDA_VISIBLE_DEVICES, or every visible GPU).
    gpus: Optional[List[int]] = None
    trials_per_gpu: int = 1


def _register() -> None:
    cs = ConfigStore.instance()
    cs.store(group="hydra/sweeper", name="optuna", node=OptunaSweeperConf, provider=PROVIDER)
    samplers = {"tpe": TPESamplerConfig, "random": RandomSamplerConfig, "grid": GridSamplerConfig,
                "cmaes": CmaEsSamplerConfig, "nsgaii": NSGAIISamplerConfig, "qmc": QMCSamplerConfig,
                "gp": GPSamplerConfig, "motpe": MOTPESamplerConfig}
    for name, node in samplers.items():
        cs.store(group="hydra/sweeper/sampler", name=name, node=node, provider=PROVIDER)
    pruners = {"none": NopPrunerConfig, "median": MedianPrunerConfig,
               "hyperband": HyperbandPrunerConfig, "threshold": ThresholdPrunerConfig}
    for name, node in pruners.items():
        cs.store(group="hydra/sweeper/pruner", name=name, node=node, provider=PROVIDER)


_register()
if official_plugin_installed():
    warnings.warn(CONFLICT_MESSAGE)
