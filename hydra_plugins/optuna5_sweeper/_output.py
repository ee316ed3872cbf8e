"""What a sweep tells its user: one line per finished trial, the summary, and
optimization_results.yaml."""
import time
from pathlib import Path
from typing import Any, Dict

import optuna
from omegaconf import OmegaConf
from optuna.trial import TrialState

from ._search_space import as_overrides
from .storage import masked


class Output:
    def _progress(self, study: optuna.Study, trial: optuna.Trial, values, state, reason) -> None:
        counts = self._counts(study)
        left = max(self.planned - counts[TrialState.COMPLETE] - counts[TrialState.PRUNED], 0)
        params = " ".join(as_overrides(trial.params))
        if state == TrialState.COMPLETE:
            outcome = " ".join(f"{v:.4f}" for v in values)
        elif state == TrialState.PRUNED:
            outcome = f"pruned ({reason})"
        else:
            outcome = f"FAIL ({reason.splitlines()[0][:120]})"
        prefix = f"[worker {self.worker}] " if self.worker is not None else ""
        print(f"{prefix}trial {trial.number:>4} | {params} | {outcome} | {self._best_text(study, counts)} | "
              f"{left} left, {time.time() - self.started:.0f} s", flush=True)

    def _best_text(self, study: optuna.Study, counts: Dict[TrialState, int]) -> str:
        if not counts[TrialState.COMPLETE]:
            return "best -"
        if len(self.directions) == 1:
            return f"best {study.best_value:.4f} (#{study.best_trial.number})"
        return f"pareto front {len(study.best_trials)} trial(s)"

    def summary(self, study: optuna.Study) -> None:
        counts = self._counts(study)
        states = ", ".join(f"{counts[s]} {s.name}" for s in TrialState if counts[s])
        print(f"study {study.study_name} ({masked(self.storage_url)}): {states or 'no trials'}", flush=True)
        if not counts[TrialState.COMPLETE]:
            return
        # the official plugin's layout (name: optuna), which tools read; the study's name beside it
        results: Dict[str, Any] = {"name": "optuna", "study_name": study.study_name}
        if study.metric_names:
            results["metric_names"] = list(study.metric_names)
        if len(self.directions) == 1:
            best = study.best_trial
            label = f"best {study.metric_names[0]}" if study.metric_names else "best value"
            print(f"{label} {best.value:.4f} (trial {best.number}): "
                  + " ".join(as_overrides(best.params)), flush=True)
            results.update(best_params=dict(best.params), best_value=best.value)
        else:
            front = study.best_trials
            print(f"pareto front ({len(front)} trials):", flush=True)
            for t in front:
                print(f"  trial {t.number}: values {t.values} "
                      + " ".join(as_overrides(t.params)), flush=True)
            results["solutions"] = [{"params": dict(t.params), "values": list(t.values)} for t in front]
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(OmegaConf.create(results), sweep_dir / "optimization_results.yaml")
