"""The Hydra plugin class: `hydra/sweeper=optuna` instantiates this with the config's keys."""
import sys
from typing import Any, List

from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf


class OptunaSweeper(Sweeper):
    def __init__(self, **settings: Any) -> None:
        self.settings = OmegaConf.create(settings)  # sampler and pruner stay configs (_recursive_: false)

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        self.hydra_context = hydra_context
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: List[str]) -> Any:
        from ._runner import Sweep, SweepError  # Optuna is imported only when a sweep runs
        from .storage import StorageError

        try:
            return Sweep(self.settings, self.config, self.launcher, arguments,
                         validate=self.validate_batch_is_legal).run()
        except (SweepError, StorageError) as exc:  # a config or state the user must change: no traceback
            print(f"error: {exc}", file=sys.stderr, flush=True)
            sys.exit(2)
        except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM; the runner has recorded its trials
            print(f"stopped ({exc or 'interrupted'}): any trial this process was running is marked FAIL "
                  "(a grid point is queued again; the lines above name it); run the same command to go on.",
                  file=sys.stderr, flush=True)
            sys.exit(130)
