"""The reports' shared guards on the storage they read (src/experiments/common/studies_copy.py)."""
import optuna
import pytest
from omegaconf import OmegaConf

from src.experiments.common.studies_copy import STUDIES_COPY, reported_studies
from src.runtime.errors import UserError


@pytest.mark.parametrize("section", ["reproduce", "bakeoff", "clustering"])
def test_a_missing_storage_is_refused_naming_the_key_and_the_command(tmp_path, section):
    r = OmegaConf.create({"storage": str(tmp_path / "nowhere.log"), "out": str(tmp_path / "out")})
    with pytest.raises(UserError, match=rf"'{section}\.storage'.*does not exist.*python -m src\.{section} first"):
        reported_studies(r, section)
    assert not (tmp_path / "out").exists()


def test_a_copy_holding_studies_the_storage_lacks_is_not_overwritten(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for path, name in [(out / STUDIES_COPY, "earlier"), (tmp_path / "storage.log", "now")]:
        storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
        optuna.create_study(study_name=name, storage=storage)
    before = (out / STUDIES_COPY).read_bytes()
    r = OmegaConf.create({"storage": str(tmp_path / "storage.log"), "out": str(out)})
    with pytest.raises(UserError, match=r"holds 1 studies that bakeoff\.storage .* lacks \(earlier\)"):
        reported_studies(r, "bakeoff")
    assert (out / STUDIES_COPY).read_bytes() == before
    storage, names = reported_studies(OmegaConf.create({"storage": str(out / STUDIES_COPY), "out": str(out)}), "bakeoff")
    assert names == ["earlier"]
