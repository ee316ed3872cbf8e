"""Bad input, one case each: refused with a non-zero exit and one paragraph naming the key or
file, no traceback, and nothing written but Hydra's own record of the attempt.

The cases run the entry point (`src.train.cli`, what `python -m src.train` calls) in this
process, since a fresh interpreter per case would spend ~7 s importing torch and Lightning;
tests/entry_points/test_train_cli.py runs it as a subprocess.
"""
import shutil
import sys

import pytest
from omegaconf import OmegaConf

from src.data import MD5, RAW_FILES, decompress_gz_only
from src.runtime.config_check import check_device, cpu_has_bf16
from src.runtime.errors import ConfigError
from src.train import cli


def truncate(path):
    path.write_bytes(path.read_bytes()[:-100])


def wrong_magic(path):
    data = bytearray(path.read_bytes())
    data[3] = 0x99
    path.write_bytes(bytes(data))


def one_label_short(path):  # one label fewer than there are images, consistently written
    data = bytearray(path.read_bytes()[:-1])
    data[4:8] = (int.from_bytes(data[4:8], "big") - 1).to_bytes(4, "big")
    path.write_bytes(bytes(data))


SWEEP = ["-m", "hydra/sweeper=optuna", "hydra.sweep.dir={out}", "hydra.sweeper.storage={out}/study.log"]
TWO_POINTS = SWEEP + ["latent=2,5"]  # a valid search space, for the cases about sweeper settings
# (arguments, words the error must contain); {out} is where output would go, {tmp} a scratch folder
CASES = {
    # config group options: every option named, subfolders' too, and the closest one
    "model=bakeoff/vanila": (["model=bakeoff/vanila"], ["'model'", "'bakeoff/vanila'", "did you mean 'bakeoff/vanilla'",
                                                         "seed003_ae"]),
    "sweep=unknown": (["-m", "sweep=bakeof_mnist,table1_mnist"], ["'sweep'", "'bakeof_mnist'", "sweeps/"]),
    "model.pretrained=<not a run>": (["model=dec", "model.pretrained={tmp}"], ["'model.pretrained'",
                                                                               "finished run directory"]),
    "model.pretrained missing": (["model=dec"], ["'model.pretrained'", "seed003_ae"]),
    # every numeric key: out of range, and of the wrong type
    "latent=0": (["latent=0"], ["'latent'", "positive integer"]),
    "latent=2.5": (["latent=2.5"], ["'latent'"]),
    "layers=-1": (["layers=-1"], ["'layers'"]),
    "hidden=abc": (["hidden=abc"], ["'hidden'", "'abc'"]),
    "epochs=0": (["epochs=0"], ["'epochs'"]),
    "epochs=1.5": (["epochs=1.5"], ["'epochs'"]),
    "batch_size=0": (["batch_size=0"], ["'batch_size'"]),
    "lr=0": (["lr=0"], ["'lr'", "> 0"]),
    "lr=fast": (["lr=fast"], ["'lr'"]),
    "seed=-1": (["seed=-1"], ["'seed'"]),
    "seed=x": (["seed=x"], ["'seed'"]),
    "dataset.val_size=0": (["dataset.val_size=0"], ["'dataset.val_size'"]),
    "dataset.val_size=60000": (["dataset.val_size=60000"], ["'dataset.val_size'"]),
    "dataset.limit=50": (["dataset.limit=50"], ["'dataset.limit'", "2 x batch_size"]),
    "dataset.limit=many": (["dataset.limit=many"], ["'dataset.limit'"]),
    "model.recon_weight=0": (["model.recon_weight=0"], ["'model.recon_weight'"]),
    "model.bottleneck.classifier_hidden=0": (["model.bottleneck.classifier_hidden=0"],
                                            ["'model.bottleneck.classifier_hidden'"]),
    # the clustering VAE's levers
    "model.balance_weight=-1": (["model.balance_weight=-1"], ["'model.balance_weight'", ">= 0"]),
    "model.kl_warmup_epochs=1.5": (["model.kl_warmup_epochs=1.5"], ["'model.kl_warmup_epochs'", "integer"]),
    "model.pretrain_epochs=epochs": (["epochs=3", "model.pretrain_epochs=3"],
                                     ["'model.pretrain_epochs'", "below `epochs`"]),
    "model.class_means_init=gmm": (["model.class_means_init=gmm"], ["'model.class_means_init'", "kmeans"]),
    "model.pretrain_kl_weight=0": (["model.pretrain_kl_weight=0"], ["'model.pretrain_kl_weight'", "> 0"]),
    "model.pretrain_as=ae": (["model.pretrain_as=ae"], ["'model.pretrain_as'", "autoencoder"]),
    "model.init=he": (["model.init=he"], ["'model.init'", "glorot"]),
    "model.classifier_input=z": (["model.classifier_input=z"], ["'model.classifier_input'", "mean"]),
    "model.bottleneck.hidden=0 (seed 001's model)": (["model=seed001_vae", "model.bottleneck.hidden=0"],
                                                     ["'model.bottleneck.hidden'", "null"]),
    "levers=nosuch": (["levers=nosuch"], ["'levers'", "'nosuch'", "kmeans"]),
    "scheduler=step": (["scheduler=step"], ["'scheduler'", "'step'", "cosine"]),
    "keep_freed_memory=maybe": (["keep_freed_memory=maybe"], ["'keep_freed_memory'", "true or false"]),
    "-m latent=5,0 (a bad job of a basic sweep)": (["-m", "latent=5,0", "hydra.sweep.dir={out}"],
                                                   ["job `latent=0`", "'latent'"]),
    # DDP inside a sweep (Lightning would start the sweep again for each extra rank)
    "-m trainer=ddp (basic sweep)": (["-m", "latent=2,5", "trainer=ddp", "trainer.accelerator=cpu",
                                      "hydra.sweep.dir={out}"], ["'trainer.strategy'", "'ddp'", "n_jobs=null"]),
    "-m trainer=cpu,ddp (one DDP job)": (["-m", "trainer=cpu,ddp", "hydra.sweep.dir={out}"],
                                         ["job `trainer=ddp`", "'trainer.strategy'"]),
    "trainer=ddp in an Optuna sweep": (TWO_POINTS + ["trainer=ddp"], ["'trainer.strategy'", "'ddp'"]),
    "trainer.devices=2 in a sweep (Lightning picks DDP)": (
        ["-m", "latent=2,5", "trainer.devices=2", "hydra.sweep.dir={out}"], ["'trainer.devices'", "n_jobs=null"]),
    # the sweeper's numeric keys
    "hydra.sweeper.n_trials=0": (TWO_POINTS + ["hydra.sweeper.n_trials=0"], ["hydra.sweeper.n_trials"]),
    "hydra.sweeper.n_trials=many": (TWO_POINTS + ["hydra.sweeper.n_trials=many"], ["n_trials", "many"]),
    "hydra.sweeper.n_jobs=0": (TWO_POINTS + ["hydra.sweeper.n_jobs=0"], ["hydra.sweeper.n_jobs"]),
    "hydra.sweeper.max_failure_rate=2": (TWO_POINTS + ["hydra.sweeper.max_failure_rate=2"],
                                         ["hydra.sweeper.max_failure_rate", "[0, 1]"]),
    "hydra.sweeper.heartbeat_interval=0": (TWO_POINTS + ["hydra.sweeper.heartbeat_interval=0"],
                                           ["hydra.sweeper.heartbeat_interval"]),
    "hydra.sweeper.trials_per_gpu=0": (TWO_POINTS + ["hydra.sweeper.trials_per_gpu=0"],
                                       ["hydra.sweeper.trials_per_gpu"]),
    # unknown options
    "model=resnet": (["model=resnet"], ["'model'", "'resnet'", "conv_vae", "flat_vae", "bakeoff/vae"]),
    "dataset=svhn": (["dataset=svhn"], ["'dataset'", "'svhn'", "fashion_mnist"]),
    "trainer=tpu": (["trainer=tpu"], ["'trainer'", "'tpu'", "cpu"]),
    "logger=wandb": (["logger=wandb"], ["'logger'", "'wandb'", "csv"]),
    "sweep=nosuch": (["-m", "sweep=nosuch"], ["'sweep'", "'nosuch'", "table1_mnist"]),
    "dataset.name=cifar": (["dataset.name=cifar"], ["'dataset.name'", "mnist"]),
    "model.bottleneck.prior=gmm": (["model.bottleneck.prior=gmm"], ["'model.bottleneck.prior'", "learned"]),
    "model.kl_estimator=exact": (["model.kl_estimator=exact"], ["'model.kl_estimator'"]),
    "objective=clustering.test.acc": (["objective=clustering.test.acc"], ["'objective'", "never optimised"]),
    "objective of a task not run": (["tasks=[loss]", "objective=clustering.val.acc"], ["'objective'", "tasks"]),
    "tasks=[nosuch]": (["tasks=[loss,nosuch]"], ["'tasks'", "clustering", "src/tasks/"]),
    # sweep search spaces
    "empty search space": (SWEEP, ["hydra.sweeper.params", "empty"]),
    "search space with an unknown key": (SWEEP + ["latnt=choice(2,5)"], ["latnt"]),
    "search space with an unknown option": (SWEEP + ["model=choice(conv_vae,resnet)"],
                                            ["model=resnet", "flat_vae"]),
    "empty range": (SWEEP + ["layers=range(3,3)"], ["hydra.sweeper.params.layers", "empty"]),
    # data files
    "truncated images": (["data_dir={tmp}/data"], ["t10k-images-idx3-ubyte", "truncated",
                                                   MD5["mnist"]["t10k-images-idx3-ubyte"]]),
    "wrong IDX magic": (["data_dir={tmp}/data"], ["train-images-idx3-ubyte", "magic number",
                                                  MD5["mnist"]["train-images-idx3-ubyte"]]),
    "label count differs": (["data_dir={tmp}/data"], ["t10k-labels-idx1-ubyte", "1,999 labels for 2,000",
                                                      MD5["mnist"]["t10k-labels-idx1-ubyte"]]),
    "missing data": (["data_dir={tmp}/nowhere", "dataset.download=false"], ["nowhere", "train-images-idx3-ubyte"]),
    # output folders
    "run dir not writable": (["hydra.run.dir={tmp}/a_file/run"], ["hydra.run.dir", "a_file is not a folder"]),
    "sweep dir not writable": (["-m", "latent=2,5", "hydra.sweep.dir={tmp}/a_file/sweep"],
                               ["hydra.sweep.dir", "a_file is not a folder"]),
    "study file not writable": (SWEEP[:3] + ["latent=2,5", "hydra.sweeper.storage={tmp}/a_file/study.log"],
                                ["hydra.sweeper.storage", "a_file"]),
    # resume
    "resume a folder that is no run": (["resume={tmp}"], ["resume=", ".hydra/overrides.yaml"]),
    "resume with other arguments": (["resume={tmp}", "latent=5"], ["resume=", "latent=5"]),
}
if not cpu_has_bf16():  # this machine's CPU: bf16 would fall back to generic code
    CASES["trainer.precision=bf16-mixed on a CPU without bf16 kernels"] = (
        ["trainer.precision=bf16-mixed"], ["'trainer.precision'", "AVX-512", "32-true"])
DAMAGE = {"truncated images": (truncate, "t10k-images-idx3-ubyte"),
          "wrong IDX magic": (wrong_magic, "train-images-idx3-ubyte"),
          "label count differs": (one_label_short, "t10k-labels-idx1-ubyte")}


def damaged_copy(data_dir, tmp_path, damage, file):
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in RAW_FILES:
        shutil.copy(data_dir / "MNIST" / "raw" / f"{f}.gz", raw)
    decompress_gz_only(raw, raw)
    damage(raw / file)


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_refused_with_one_paragraph_and_nothing_written(case, tmp_path, capfd, monkeypatch, request):
    args, words = CASES[case]
    if case in DAMAGE:
        damaged_copy(request.getfixturevalue("data_dir"), tmp_path, *DAMAGE[case])
    (tmp_path / "a_file").write_text("")
    out = tmp_path / "out"
    args = [a.format(out=out, tmp=tmp_path) for a in args]
    if not any(a.startswith(("hydra.run.dir", "resume")) for a in args):
        args.append(f"hydra.run.dir={out}")
    monkeypatch.setattr(sys, "argv", ["src.train", *args])

    with pytest.raises(SystemExit) as exit_:
        cli()
    stdout, stderr = capfd.readouterr()

    assert exit_.value.code not in (0, None)
    for word in words:
        assert word in stderr, (word, stderr)
    assert "Traceback" not in stdout + stderr
    # Hydra's record of the attempt (.hydra/, the log) is all that may exist.
    written = [p for p in out.rglob("*") if p.is_file()] if out.exists() else []
    assert all(p.parent.name == ".hydra" or p.suffix == ".log" for p in written), written
    assert not any(p.name == "study.log" for p in written)


@pytest.mark.parametrize("accelerator, precision, bf16_kernels, refused", [
    ("cpu", "bf16-mixed", False, True), ("cpu", "bf16-true", False, True),
    ("cpu", "bf16-mixed", True, False), ("cpu", "32-true", False, False), ("gpu", "bf16-mixed", False, False)])
def test_bf16_is_refused_only_on_a_cpu_without_bf16_kernels(accelerator, precision, bf16_kernels, refused):
    cfg = OmegaConf.create({"trainer": {"accelerator": accelerator, "precision": precision}})
    if refused:
        with pytest.raises(ConfigError, match="'trainer.precision'.*32-true on this CPU"):
            check_device(cfg, bf16_kernels=bf16_kernels)
    else:
        check_device(cfg, bf16_kernels=bf16_kernels)
