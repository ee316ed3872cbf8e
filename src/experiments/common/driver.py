"""What every experiment's driver does, in one place: check its settings, refuse to write over
a committed studies copy the storage lacks, run its studies through the sweeper, write its
report; bad settings as one paragraph naming the key, Ctrl-C as "run it again"."""
import sys
from typing import Callable, NoReturn, Sequence

from omegaconf import DictConfig, OmegaConf

from src.experiments.common.studies_copy import keep_the_copy
from src.runtime.config_check import min_limit
from src.runtime.errors import UserError, exit_with
from src.trials.records import open_studies

COUNTS = ("epochs", "seeds", "trials_per_gpu", "cpu_jobs", "parallel_studies")


def bad(section: str, key: str, value, allowed: str) -> NoReturn:
    if OmegaConf.is_config(value):
        value = OmegaConf.to_container(value)
    raise UserError(f"Config key '{section}.{key}' is {value!r}; allowed: {allowed}.")


def check_shared(r: DictConfig, section: str, datasets: Sequence[str], batch_size: int,
                 counts: Sequence[str] = COUNTS) -> None:
    """The keys every driver has: data sets, counts, switches, and the per-split image limit."""
    if not r.datasets or any(d not in datasets for d in r.datasets):
        bad(section, "datasets", r.datasets, f"a non-empty list of {', '.join(datasets)}")
    for key in counts:
        if not isinstance(r[key], int) or isinstance(r[key], bool) or r[key] < 1:
            bad(section, key, r[key], "an integer >= 1")
    for key in ("run", "report"):
        if key in r and not isinstance(r[key], bool):
            bad(section, key, r[key], "true or false")
    if r.limit is not None and (not isinstance(r.limit, int) or r.limit < min_limit(batch_size)):
        bad(section, "limit", r.limit, f"null or an integer >= {min_limit(batch_size)} (a trial's "
                                       f"dataset.limit: two batches of {batch_size})")


def drive(r: DictConfig, section: str, check: Callable[[DictConfig], None],
          run: Callable[[DictConfig], int], build_report: Callable[[DictConfig], object]) -> NoReturn:
    """Check, run (unless `<section>.run=false`), report (unless `<section>.report=false`),
    exit: 0, the sweeps' code, 2 for bad settings, 130 when interrupted."""
    rc = 0
    try:
        check(r)
        if r.report:  # not hours of runs before a report that cannot be written
            keep_the_copy(r, open_studies(r.storage)[1], section)
        if r.get("run", True):
            rc = run(r)
        if r.report:
            print(f"report: {build_report(r)}", flush=True)
    except UserError as exc:
        exit_with(exc)
    except KeyboardInterrupt:
        print("Interrupted; run the same command again to go on where it stopped.", file=sys.stderr)
        sys.exit(130)
    sys.exit(rc)
