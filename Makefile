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

LOCK := requirements.lock

.PHONY: install run test lint upgrade bench ui sample clean messages

# Exact versions from the lock, so installs a month apart fit the models with the same libraries.
$(STAMP): pyproject.toml $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e ".[dev]"
	$(BIN)/python -c "from orchestration.transformation.project import prepare_manifest; prepare_manifest()"
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

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint dbt_project

test: lint
	$(BIN)/pytest

# Newest versions the pyproject ranges allow, then the whole suite on them.
upgrade: install
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --universal --upgrade -q -o $(LOCK)
	$(MAKE) test

# The reports' message catalogues: new messages added (untranslated), vanished ones dropped.
# Translate the empty msgstr entries it leaves; tests/test_reporting.py lists any it finds.
CATALOGUES := iwh/reporting/locale
messages: install
	$(BIN)/pybabel extract -F babel.cfg --no-location --sort-output --omit-header -o $(CATALOGUES)/messages.pot .
	$(BIN)/pybabel update -i $(CATALOGUES)/messages.pot -d $(CATALOGUES) --no-fuzzy-matching --ignore-obsolete
	rm $(CATALOGUES)/messages.pot

bench: install
	$(BIN)/python -m benchmarks.run

# Dagster's local development command on the definitions of workspace.yaml and the instance `iwh run`
# uses (its dagster.yaml written first); UI_ARGS passes options on, e.g. UI_ARGS="-p 3001".
ui: install
	$(BIN)/python -m orchestration.instance
	DAGSTER_HOME="$$(cd "$(IWH_HOME)" && pwd)/dagster" PATH="$(abspath $(BIN)):$$PATH" $(BIN)/dg dev -w workspace.yaml $(UI_ARGS)

clean:
	rm -rf "$(IWH_HOME)" dbt_project/target dbt_project/logs
