# The two commands of the README:  make demo   and   make test
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin

# Nothing phones home: dbt, dlt and Great Expectations telemetry off.
export DO_NOT_TRACK := 1
export RUNTIME__DLTHUB_TELEMETRY := false
export GX_ANALYTICS_ENABLED := false

.PHONY: demo test install lint clean

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,spark]'
	touch $@

install: $(BIN)/.installed

demo: $(BIN)/.installed
	$(BIN)/recon demo $(DEMO_ARGS)

test: $(BIN)/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check core recon ingest ml checks demoworld tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) target logs warehouse/*.duckdb* .pytest_cache
