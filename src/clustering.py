"""`python -m src.clustering`: DEC, IDEC and the clustering table (src/experiments/clustering/run.py)."""
from src.experiments.clustering.run import main

if __name__ == "__main__":
    main()
