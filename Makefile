# make setup  - create .venv with the pinned stack and mmcrossformer (seconds when done before)
# make demo   - setup + train RetinaNet/CrossFormer++-S on the embedded COCO-format set, then evaluate
# make test   - setup + lint (ruff, see ruff.toml) + the test suite
# STACK=onedl make ...  - the same on the OneDL forks, in .venv-onedl
#                         (docs/en/installation.md#the-onedl-stack)
STACK ?= openmmlab
ifeq ($(STACK),onedl)
PY := .venv-onedl/bin/python
else
PY := .venv/bin/python
endif
DEMO_CFG := configs/retinanet_crossformerpp_s_coco_demo.py
DEMO_DIR := work_dirs/demo

.PHONY: setup demo test test-all
setup:
	STACK=$(STACK) bash scripts/setup.sh

# each step prints its wall time; training and testing show a progress bar
demo: setup
	rm -rf $(DEMO_DIR)
	@t=$$(date +%s); $(PY) tools/make_demo_data.py --out data/demo_coco \
	  && echo "[demo] data: $$(( $$(date +%s) - t )) s"
	@t=$$(date +%s); $(PY) tools/train.py $(DEMO_CFG) --work-dir $(DEMO_DIR) \
	  && echo "[demo] training: $$(( $$(date +%s) - t )) s"
	@t=$$(date +%s); $(PY) tools/test.py $(DEMO_CFG) \
	  $$(cat $(DEMO_DIR)/last_checkpoint) --work-dir $(DEMO_DIR)/test \
	  && echo "[demo] test: $$(( $$(date +%s) - t )) s"

test: setup
	$(PY) -m ruff check .
	$(PY) -m pytest tests -m "not slow"

test-all: setup
	$(PY) -m ruff check .
	$(PY) -m pytest tests
