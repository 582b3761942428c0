# tvdesk: `make run` opens the app, `make test` runs the whole suite. Both set everything up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DVC_NO_ANALYTICS := 1
export DVC_NO_UPDATE_CHECK := 1

.PHONY: setup system venv data run test lint format model clean

setup: system venv data

system:
	@scripts/system-packages.sh

venv: $(STAMP)
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[train,dev]'
	@touch $@

# The base dataset is rendered deterministically and checked against data.dvc.
data: $(STAMP)
	$(BIN)/tvdesk data base

run: setup
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then $(BIN)/tvdesk gui $(ARGS); \
	else echo "no display found: running on a virtual X screen (xvfb-run)"; \
	     xvfb-run -a -s "-screen 0 1280x800x24" $(BIN)/tvdesk gui $(ARGS); fi

# The whole suite, with the installer bundle's smoke test: the bundle is (re)built first when it
# is older than the sources (about 6 min).
test: setup
	TVDESK_BUILD_BUNDLE=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

lint:
	$(BIN)/ruff check tvdesk jobs tests bench
	$(BIN)/ruff format --check tvdesk jobs tests bench

format:
	$(BIN)/ruff format tvdesk jobs tests bench
	$(BIN)/ruff check --fix tvdesk jobs tests bench

# Rebuild the bundled model (about 40 min on 2 CPU cores). Not part of setup: the model is committed.
model: setup
	for c in day night; do $(BIN)/tvdesk data synth build/eval/$$c --conditions $$c --train 0 --val 200 --seed 1001; done
	$(BIN)/tvdesk train --data data/base/data.yaml --out build/model-stage1 --name tvdesk-base \
	  --epochs 34 --imgsz 320 --batch 16 --data-dvc data.dvc
	$(BIN)/tvdesk train --data data/base/data.yaml --out resources/models --name tvdesk-base \
	  --start-from build/model-stage1/tvdesk-base.pt --epochs 40 --imgsz 320 --batch 16 \
	  --data-dvc data.dvc --eval day=build/eval/day/data.yaml --eval night=build/eval/night/data.yaml

clean:
	rm -rf build .pytest_cache .ruff_cache
