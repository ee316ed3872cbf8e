"""`python -m src.report`: Table 1's report (src/experiments/table1/report.py) under the short
name that the README, the committed reports and the stored studies' records use."""
from src.experiments.table1.report import main

if __name__ == "__main__":
    main()
