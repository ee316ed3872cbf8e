"""Table 1's studies: their names, and the best (n, m) of a latent size."""
from omegaconf import OmegaConf

from src.trials.records import best_run, select

KINDS = {"conv_vae": "table1", "flat_vae": "flat"}  # model -> study name prefix (and sweeps/ file)


def study_name(model: str, dataset: str, epochs: int, limit: int | None, levers: str = "none") -> str:
    """Runs of another length, data subset or lever setting go to a study of their own, never mixed."""
    return (f"{KINDS[model]}_{dataset}_e{epochs}" + (f"_limit{limit}" if limit else "")
            + (f"_{levers}" if levers != "none" else ""))


def settings(r) -> list[str]:
    """`reproduce.levers` as a list: one name (`reproduce.levers=kmeans`) or several
    (`reproduce.levers=[none,kmeans]`), each run in studies of its own and reported side by side."""
    value = r.levers
    return list(value) if OmegaConf.is_list(value) or isinstance(value, list) else [value]


def levers_of(record: dict) -> str:
    """The run's setting of conf/levers/ (runs recorded before the levers existed: none)."""
    return record.get("levers") or "none"


def best_point(records: list[dict], model: str, dataset: str, latent: int, epochs: int,
               limit: int | None, levers: str = "none") -> dict | None:
    """The (n, m) of the seed-0 run with the highest validation accuracy at this s, or None."""
    runs = select([r for r in records if levers_of(r) == levers], model=model, dataset=dataset,
                  latent=latent, epochs=epochs, limit=limit, seed=0)
    if not runs:
        return None
    best = best_run(runs)
    return {"layers": best["layers"], "hidden": best["hidden"]}
