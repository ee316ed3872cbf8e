"""Validation of a composed config before anything is built or trained.

Each problem becomes one ConfigError paragraph naming the key, the value given and
what is allowed.
"""
import difflib
import re

from omegaconf import DictConfig, OmegaConf

from src.models.rules import RELATIVE_RULES, RULES, is_int
from src.runtime.choices import DATASETS, NUM_CLASSES
from src.runtime.errors import ConfigError
from src.tasks import TASKS

# What a sweep may optimise besides a task's validation scores: the model's size (multi-objective).
OBJECTIVE_EXTRAS = ("parameters",)
INTERPOLATION = re.compile(r"^\$\{([\w.]+)\}$")


def objective_paths(cfg: DictConfig) -> list:
    """`objective` as a list: one metrics.json path, or several for a multi-objective study."""
    return list(cfg.objective) if OmegaConf.is_list(cfg.objective) else [cfg.objective]


def min_limit(batch_size: int) -> int:
    """The smallest `dataset.limit`: one batch is held out for validation and at least one
    is trained on."""
    return 2 * batch_size


def check(cfg: DictConfig, key: str, ok, allowed: str) -> None:
    value = OmegaConf.select(cfg, key, default=None)
    if not ok(value):
        raise ConfigError(
            f"Config key '{key}' is {value!r} ({type(value).__name__}); allowed: {allowed}. "
            f"Set it on the command line, e.g. `python -m src.train {key}=...`, or in conf/.")


def check_config(cfg: DictConfig) -> None:
    for key, meaning in (("epochs", "training epochs"), ("batch_size", "images per step")):
        check(cfg, key, lambda v: is_int(v) and v > 0, f"a positive integer ({meaning})")
    check(cfg, "seed", lambda v: is_int(v) and v >= 0, "an integer >= 0")
    check(cfg, "dataset.name", lambda v: v in DATASETS, f"one of {sorted(DATASETS)}")
    check(cfg, "dataset.val_size", lambda v: is_int(v) and 0 < v < 60_000,
          "an integer between 1 and 59,999 (images held out of the training set)")
    check(cfg, "dataset.limit", lambda v: v is None or (is_int(v) and v >= min_limit(cfg.batch_size)),
          f"null (all images) or an integer >= 2 x batch_size = {min_limit(cfg.batch_size)} "
          f"(one batch is held out for validation and at least one is trained on)")
    check(cfg, "dataset.image_size", lambda v: is_int(v) and v >= 28 and v % 2 == 0,
          "an even integer >= 28 (the 28x28 images are padded with zeros to that size)")
    check(cfg, "dataset.exclude_class", lambda v: v is None or (is_int(v) and 0 <= v < NUM_CLASSES),
          f"null or a class index from 0 to {NUM_CLASSES - 1} (the class left out of training, e.g. 1: "
          f"MNIST's digit 1, Fashion-MNIST's trouser)")
    check_parts(cfg, cfg.model, "model")
    check(cfg, "keep_freed_memory", lambda v: isinstance(v, bool), "true or false")
    check(cfg, "tasks", lambda v: OmegaConf.is_list(v) and all(t in TASKS for t in v),
          f"a list of task names from {list(TASKS)} (src/tasks/)")
    objectives = objective_paths(cfg)
    check(cfg, "objective", lambda v: len(objectives) > 0 and all(is_objective(o, cfg.tasks) for o in objectives),
          "a metrics.json path or a list of them: <task>.val.<score> for a task of `tasks` "
          f"(e.g. clustering.val.acc), or {', '.join(OBJECTIVE_EXTRAS)} (test scores are never optimised)")


def is_objective(path, tasks) -> bool:
    if not isinstance(path, str):
        return False
    parts = path.split(".")
    return path in OBJECTIVE_EXTRAS or (len(parts) == 3 and parts[0] in tasks and parts[1] == "val")


def check_parts(cfg: DictConfig, node: DictConfig, path: str) -> None:
    """Each node of the model's config with a `_target_` of src/models/rules.py, and its keys.
    A key set through an interpolation (`latent: ${latent}`) is named as the user sets it."""
    target = node.get("_target_")
    relative = {key: ((lambda v, ok=ok: ok(v, cfg)), allowed)
                for key, (ok, allowed) in RELATIVE_RULES.get(target, {}).items()}
    for key, (ok, allowed) in {**RULES.get(target, {}), **relative}.items():
        raw = node._get_node(key)._value() if key in node else None
        given = INTERPOLATION.match(raw) if isinstance(raw, str) else None
        check(cfg, given.group(1) if given else f"{path}.{key}", ok, allowed)
    for key in node:
        if OmegaConf.is_dict(node._get_node(key)):
            check_parts(cfg, node[key], f"{path}.{key}")


# Why a sweep's job must train in one process, and what to do instead.
ONE_PROCESS_PER_TRIAL = (
    "in a sweep (-m), one process per trial: no ddp strategy and one device (trainer=cpu or "
    "trainer=gpu). Lightning starts each extra DDP process by running the command line again, "
    "which inside a sweep starts the sweep again instead of this trial's training. To use "
    "several GPUs for a sweep, run one trial per GPU: `python -m src.train -m sweep=<name> "
    "trainer=gpu hydra.sweeper.n_jobs=null`; trainer=ddp and trainer.devices are for single runs")


def cpu_has_bf16() -> bool:
    """Whether torch computes bf16 matmuls and convolutions on this CPU with oneDNN's bf16
    kernels (AVX-512 or AMX). Without them it falls back to a generic loop."""
    import torch  # here: the other checks run before torch is imported

    return torch.ops.mkldnn._is_mkldnn_bf16_supported()


def check_device(cfg: DictConfig, bf16_kernels: bool | None = None) -> None:
    """What this machine cannot run: bf16 on a CPU without bf16 kernels. There a 2048 x 2048
    bf16 matmul ran at 0.3 GFLOP/s against 131 in fp32 (an AVX2 EPYC), and a flat epoch took
    65 s instead of 6 s; bf16 is only ever a speed setting, so it is refused rather than
    left to run many times slower. `bf16_kernels` defaults to this CPU's answer."""
    bf16 = str(OmegaConf.select(cfg, "trainer.precision")).startswith("bf16")
    if not bf16 or str(OmegaConf.select(cfg, "trainer.accelerator")) != "cpu":
        return
    if bf16_kernels is None:
        bf16_kernels = cpu_has_bf16()
    if not bf16_kernels:
        import torch

        check(cfg, "trainer.precision", lambda v: False,
              f"32-true on this CPU: it has no bf16 kernels (torch sees CPU capability "
              f"{torch.backends.cpu.get_cpu_capability()}; oneDNN's bf16 path needs AVX-512 or AMX), "
              f"so bf16 matmuls and convolutions fall back to generic code (measured on an AVX2 CPU: "
              f"a flat-model epoch 11 times slower than in fp32; README, Speed). bf16-mixed and "
              f"bf16-true are for CPUs with AVX-512 and for GPUs (trainer=gpu)")


def check_sweep_job(cfg: DictConfig) -> None:
    """What a job of a `-m` sweep cannot be: a run over several processes, which Lightning
    starts for a ddp strategy and, by itself, for more than one device."""
    check(cfg, "trainer.strategy", lambda v: not (isinstance(v, str) and v.startswith("ddp")),
          ONE_PROCESS_PER_TRIAL)
    check(cfg, "trainer.devices", lambda v: len(v) == 1 if OmegaConf.is_list(v) else v in (None, 1, "1"),
          ONE_PROCESS_PER_TRIAL)


GROUP_OVERRIDE = re.compile(r"^\+{0,2}(\w+)=(.+)$")


def group_options(group: str) -> list[str]:
    """The options of a config group: conf/<group>/**.yaml (sweeps/*.yaml for `sweep`)."""
    from src.runtime.paths import CONF_DIR, SWEEPS_DIR

    folder = SWEEPS_DIR if group == "sweep" else CONF_DIR / group
    return sorted(str(p.relative_to(folder).with_suffix("")) for p in folder.rglob("*.yaml")
                  if not p.name.startswith("_") and "base" not in p.relative_to(folder).parts[:-1])


def check_group_overrides(args: list[str]) -> None:
    """`model=bakeoff/vanila` and the like: one paragraph naming the group and every option
    (Hydra's own message lists the top folder's only), before Hydra composes. Sweeps over
    options (`model=a,b`) are checked value by value; sweeper expressions are left to it."""
    from src.runtime.paths import CONF_DIR

    groups = {p.name for p in CONF_DIR.iterdir() if p.is_dir()} | {"sweep"}
    for arg in args:
        match = GROUP_OVERRIDE.match(arg)
        if not match or match[1] not in groups or any(c in match[2] for c in "()${}[]'\""):
            continue
        options = group_options(match[1])
        for value in match[2].split(","):
            if value not in options and value != "null":
                close = difflib.get_close_matches(value, options, n=1)
                raise ConfigError(
                    f"Config group '{match[1]}' has no option {value!r}"
                    + (f" (did you mean {close[0]!r}?)" if close else "")
                    + f"; allowed: {', '.join(options)} ({'sweeps' if match[1] == 'sweep' else 'conf/' + match[1]}/).")
