"""`python -m src.reproduce`: Table 1's driver (src/experiments/table1/reproduce.py) under the
short name that the README, the committed reports and the stored studies' records use."""
from src.experiments.table1.reproduce import main

if __name__ == "__main__":
    main()
