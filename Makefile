# tvdesk: `make run` opens the app, `make test` runs the whole suite. Both set everything up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DVC_NO_ANALYTICS := 1
export DVC_NO_UPDATE_CHECK := 1

.PHONY: setup system venv data run test bundle lint format model traffic-model int8-models clean

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
# is older than the sources (about 6 min; a build step, not a test).
test: setup bundle
	$(BIN)/python -m pytest --durations=15 $(PYTEST_ARGS)

bundle: setup
	$(BIN)/python packaging/build.py --no-archive --if-stale

lint:
	$(BIN)/ruff check tvdesk jobs tests bench
	$(BIN)/ruff format --check tvdesk jobs tests bench
	$(BIN)/lint-imports

format:
	$(BIN)/ruff format tvdesk jobs tests bench
	$(BIN)/ruff check --fix tvdesk jobs tests bench

# Rebuild the bundled model (about 2.5 h on 2 CPU cores). Not part of setup: the model is committed.
# Five stages on the base data, each from the last one's .pt (whose card it records), then the
# drift benchmark calibrates the model's drift profile into its card.
STAGE = $(BIN)/tvdesk train --data data/base/data.yaml --name tvdesk-base --imgsz 320 --batch 16 \
	--data-dvc data.dvc
EVALS = --eval day=build/eval/day/data.yaml --eval night=build/eval/night/data.yaml
model: setup
	for c in day night; do $(BIN)/tvdesk data synth build/eval/$$c --conditions $$c --train 0 --val 200 --seed 1001; done
	$(STAGE) --out build/model-stage1 --epochs 34
	$(STAGE) --out build/model-stage2 --start-from build/model-stage1/tvdesk-base.pt --epochs 40
	$(STAGE) --out build/model-stage3 --start-from build/model-stage2/tvdesk-base.pt --epochs 30 \
	  --optimizer AdamW --lr0 0.001 --warmup-epochs 1 $(EVALS)
	$(STAGE) --out build/model-stage4 --start-from build/model-stage3/tvdesk-base.pt --epochs 12 \
	  --optimizer AdamW --lr0 0.0003 --warmup-epochs 0 $(EVALS)
	$(STAGE) --out resources/models --start-from build/model-stage4/tvdesk-base.pt --epochs 6 \
	  --optimizer AdamW --lr0 0.0002 --warmup-epochs 0 $(EVALS)
	$(BIN)/python -m bench.drift --write-card resources/models/tvdesk-base.json

# Rebuild the real-camera traffic model (COCO YOLOv8n cut to six traffic classes) from the int8
# export in ../shared/realdata, measure it on dawn_fog and write its card (a few minutes).
traffic-model: venv
	$(BIN)/python -m tvdesk.training.traffic_model --out resources/models

# The int8 copies of both bundled models (traffic: calibrated on the shared day clips, gated on
# dawn_fog at 480 and 320; base: calibrated on the base train images, gated on base val and the
# held-out synthetic day set), their verdicts written into the cards (a few minutes).
int8-models: data
	test -f build/eval/day/data.yaml || $(BIN)/tvdesk data synth build/eval/day --conditions day \
	  --train 0 --val 200 --seed 1001
	$(BIN)/python -m tvdesk.training.int8_models

clean:
	rm -rf build .pytest_cache .ruff_cache
