# Two commands for a new user: `make run` (a warehouse on the synthetic sample) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export IWH_LANDING_DIR ?= data/landing
export IWH_HOME ?= data
export DO_NOT_TRACK := 1
export GX_ANALYTICS_ENABLED := false
export DAGSTER_DISABLE_TELEMETRY := true

.PHONY: install run test bench ui sample clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

install: $(STAMP)

sample: install
	$(BIN)/iwh sample

run: install
	@if [ -z "$$(ls -A "$(IWH_LANDING_DIR)" 2>/dev/null)" ]; then \
		echo "landing zone $(IWH_LANDING_DIR) is empty: writing the synthetic sample"; \
		$(BIN)/iwh sample --out "$(IWH_LANDING_DIR)"; \
	fi
	$(BIN)/iwh run

test: install
	$(BIN)/pytest

bench: install
	$(BIN)/python -m benchmarks.run

ui: install
	@mkdir -p "$(IWH_HOME)/dagster"
	DAGSTER_HOME="$$(cd "$(IWH_HOME)" && pwd)/dagster" $(BIN)/dagster dev

clean:
	rm -rf "$(IWH_HOME)" dbt_project/target dbt_project/logs
