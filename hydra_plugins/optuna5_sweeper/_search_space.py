"""From Hydra override strings to Optuna distributions, grid points and job overrides.

`choice(a, b)` / `a,b` -> categorical; `range(a, b[, step])` -> the values a, a+step, ...
below b, as in Hydra's basic sweeper; `interval(a, b)` -> uniform on [a, b] (Hydra reads
its ends as floats: `int(interval(a, b))` for integers); `tag(log, interval(a, b))` ->
log-uniform. Anything else is a fixed override,
passed to every trial unchanged.
"""
import itertools
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Sequence

import optuna
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import IntervalSweep, Override, RangeSweep, Transformer
from optuna.distributions import (BaseDistribution, CategoricalDistribution, FloatDistribution,
                                  IntDistribution, check_distribution_compatibility)


class SearchSpaceError(ValueError):
    pass


@dataclass
class SearchSpace:
    distributions: Dict[str, BaseDistribution] = field(default_factory=dict)
    fixed: List[str] = field(default_factory=list)  # override strings, as written

    def grid(self) -> List[Dict[str, Any]]:
        """Every point of the product of the parameters' values (discrete ones only)."""
        names = list(self.distributions)
        values = []
        for name in names:
            dist = self.distributions[name]
            if isinstance(dist, CategoricalDistribution):
                values.append(list(dist.choices))
            elif isinstance(dist, IntDistribution) and not dist.log:
                values.append(list(range(dist.low, dist.high + 1, dist.step)))
            elif isinstance(dist, FloatDistribution) and dist.step is not None:
                values.append(stepped_values(dist))
            else:
                raise SearchSpaceError(
                    f"hydra.sweeper.params.{name}: the grid sampler needs a finite set of values "
                    f"(choice(...) or range(...)), got {dist}. Use another sampler for intervals.")
        return [dict(zip(names, point)) for point in itertools.product(*values)]

    def probe_points(self) -> List[Dict[str, Any]]:
        """Points to compose before the study starts: one with every parameter at its first
        value (which checks every key), and one more per other string choice, since a string
        may name a config group's option (`model=choice(conv_vae,flat_vae)`)."""
        base = {name: (dist.choices[0] if isinstance(dist, CategoricalDistribution) else dist.low)
                for name, dist in self.distributions.items()}
        points = [base]
        for name, dist in self.distributions.items():
            if isinstance(dist, CategoricalDistribution):
                points += [{**base, name: v} for v in dist.choices[1:] if isinstance(v, str)]
        return points


def _range_distribution(name: str, sweep: RangeSweep, override: Override) -> BaseDistribution:
    values = list(override.sweep_iterator(transformer=Transformer.encode))
    if not values:
        raise SearchSpaceError(f"hydra.sweeper.params.{name}: {override.input_line} is empty.")
    if sweep.shuffle:
        return CategoricalDistribution(values)
    if all(isinstance(v, int) for v in (sweep.start, sweep.stop, sweep.step)):
        return IntDistribution(values[0], values[-1], step=sweep.step)
    if len(values) == 1:
        return CategoricalDistribution(values)
    # A stepped float range is a number to the samplers (CMA-ES, TPE, GP model it as one),
    # on the grid low, low + step, ... up to its last value before the exclusive end.
    return FloatDistribution(round(values[0], 12), round(values[-1], 12), step=sweep.step)


def stepped_values(dist: FloatDistribution) -> List[float]:
    """The values of a stepped float distribution, rounded as written (0.1 + 0.2 -> 0.3)."""
    count = round((dist.high - dist.low) / dist.step) + 1
    return [round(dist.low + i * dist.step, 12) for i in range(count)]


def _distribution(name: str, override: Override) -> BaseDistribution:
    value = override.value()
    if override.is_choice_sweep():
        return CategoricalDistribution(list(override.sweep_iterator(transformer=Transformer.encode)))
    if override.is_range_sweep():
        return _range_distribution(name, value, override)
    if override.is_interval_sweep():
        assert isinstance(value, IntervalSweep)
        log = "log" in value.tags
        if isinstance(value.start, int) and isinstance(value.end, int):
            return IntDistribution(value.start, value.end, log=log)
        return FloatDistribution(float(value.start), float(value.end), log=log)
    raise SearchSpaceError(f"hydra.sweeper.params.{name}: {override.input_line} is not supported; "
                           "use choice(...), range(...), interval(...) or tag(log, interval(...)).")


def parse(params: Dict[str, Any] | None, arguments: Sequence[str]) -> SearchSpace:
    """Parse `hydra.sweeper.params` and the command line's overrides (which win)."""
    lines = [f"{key}={value}" for key, value in (params or {}).items()] + list(arguments)
    try:
        overrides = OverridesParser.create().parse_overrides(lines)
    except Exception as exc:  # Hydra's grammar errors name the bad override
        raise SearchSpaceError(f"hydra.sweeper.params / command line: {exc}") from exc
    space = SearchSpace()
    by_key: Dict[str, Override] = {}
    for override in overrides:  # a later override of the same key replaces the earlier one
        by_key[override.get_key_element()] = override
    for key, override in by_key.items():
        if override.is_sweep_override():
            try:
                space.distributions[key] = _distribution(key, override)
            except ValueError as exc:
                if isinstance(exc, SearchSpaceError):
                    raise
                raise SearchSpaceError(f"hydra.sweeper.params.{key}: {override.input_line}: {exc}") from exc
        else:
            space.fixed.append(override.input_line)
    return space


def compatible(old: BaseDistribution, new: BaseDistribution) -> bool:
    """Whether a trial may suggest `new` where the study holds `old`: Optuna's own rule."""
    try:
        check_distribution_compatibility(old, new)
    except ValueError:
        return False
    return True


def as_stored(space: SearchSpace, stored: Dict[str, BaseDistribution], grid: bool,
              where: str) -> Dict[str, BaseDistribution]:
    """The distributions to suggest with, given those the study's trials already hold.

    Optuna keeps one set of choices per categorical parameter and study. A grid run again
    over a subset of a parameter's stored choices suggests with the stored set (its points
    stay the subset); any other change is refused here, before a trial is claimed, rather
    than by Optuna in the middle of the sweep."""
    out = dict(space.distributions)
    for name, new in space.distributions.items():
        old = stored.get(name)
        if old is None:
            continue
        if compatible(old, new):
            continue
        if grid and isinstance(new, CategoricalDistribution) and isinstance(old, CategoricalDistribution) \
                and set(new.choices) <= set(old.choices):
            out[name] = old
            continue
        allowed = (f"the same choices {list(old.choices)}" + (" or a subset of them" if grid else "")
                   if isinstance(old, CategoricalDistribution) else f"a distribution of the same kind ({old})")
        raise SearchSpaceError(
            f"hydra.sweeper.params.{name}: {where} already holds trials with {name} from {old}; "
            f"this sweep gives {new}. Optuna keeps one set of choices per parameter and study, so "
            f"this study can take {allowed}. To run other values, give the sweep another "
            f"hydra.sweeper.study_name (it may share the storage file).")
    return out


def suggest(trial: optuna.Trial, name: str, dist: BaseDistribution) -> Any:
    """Ask the trial for one parameter through Optuna's public suggest API."""
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)


def as_overrides(params: Dict[str, Any]) -> List[str]:
    """Parameter values as `key=value` overrides, as Hydra's grammar reads them back."""
    return [f"{k}={format_value(v)}" for k, v in params.items()]


_PLAIN = re.compile(r"^[\w./+-]*$")


def format_value(value: Any) -> str:
    """A parameter value as Hydra's override grammar reads it back."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    if _PLAIN.match(text) and text not in ("null", "true", "false"):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
