"""The autoencoder bake-off (seed 004) and autoencoder + k-means (seed 003): published
numbers (published.py), the driver (run.py; `python -m src.bakeoff`) and the report (report.py)."""
