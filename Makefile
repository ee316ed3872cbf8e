# Entry points: `make train`, `make reproduce`, `make report`, `make bakeoff`, `make clustering`, `make test`,
# `make benchmark`, `make benchmark-sweep`.
# Each creates .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: train reproduce report bakeoff clustering test benchmark benchmark-sweep clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

train: $(STAMP)
	$(BIN)/python -m src.train $(ARGS)

reproduce: $(STAMP)  # Table 1: every run, then the report (docs/results/); ARGS="reproduce.grid=paper ..."
	$(BIN)/python -m src.reproduce $(ARGS)

report: $(STAMP)  # the report alone, from the stored studies
	$(BIN)/python -m src.report $(ARGS)

bakeoff: $(STAMP)  # the autoencoder bake-off, then its report (docs/results/bakeoff/); ARGS="bakeoff.seeds=1 ..."
	$(BIN)/python -m src.bakeoff $(ARGS)

clustering: $(STAMP)  # seed 003's autoencoder, DEC and IDEC, then the clustering table (docs/results/clustering/)
	$(BIN)/python -m src.clustering $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

benchmark: $(STAMP)  # training images/s, the project's pipeline against the standard one
	$(BIN)/python -m benchmarks.throughput $(ARGS)

benchmark-sweep: $(STAMP)  # Table 1 trials per hour and device utilization; ARGS="--minutes 15 ..."
	$(BIN)/python -m benchmarks.sweep_throughput $(ARGS)

clean:
	rm -rf $(VENV) outputs/runs outputs/multiruns
