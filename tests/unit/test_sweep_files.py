"""Every study file in sweeps/ composes with the trainer's config and passes its checks, so
that a file gone stale (a renamed key, a removed option) fails here rather than at the start
of someone's sweep."""
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from src.runtime.config_check import check_config
from src.runtime.paths import CONF_DIR, SWEEPS_DIR
from src.train import register_sweeps

SWEEPS = sorted(p.stem for p in SWEEPS_DIR.glob("*.yaml") if not p.stem.startswith("_"))


@pytest.mark.parametrize("sweep", SWEEPS)
def test_every_sweep_file_composes_and_passes_the_config_checks(sweep):
    register_sweeps()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=[f"sweep={sweep}"], return_hydra_config=True)
    assert cfg.hydra.sweeper.study_name and cfg.hydra.sweeper.params, sweep
    for key in cfg.hydra.sweeper.params:
        group = key.split("@")[0]
        assert (CONF_DIR / group).is_dir() or OmegaConf.select(cfg, key, default="<absent>") != "<absent>", (sweep, key)
    if cfg.model._target_ == "src.models.DEC":
        return  # model.pretrained is filled by the driver with runs that do not exist here
    job = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    check_config(job)
