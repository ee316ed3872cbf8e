"""`python -m src.bakeoff`: the autoencoder bake-off's driver (src/experiments/bakeoff/run.py)."""
from src.experiments.bakeoff.run import main

if __name__ == "__main__":
    main()
