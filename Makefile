# make setup  - create .venv with the pinned stack and mmcrossformer (seconds when done before)
# make demo   - setup + train RetinaNet/CrossFormer++-S on the embedded COCO-format set, then evaluate
# make test   - setup + lint (ruff, see ruff.toml) + the test suite
PY := .venv/bin/python
DEMO_CFG := configs/retinanet_crossformerpp_s_coco_demo.py
DEMO_DIR := work_dirs/demo

.PHONY: setup demo test test-all
setup:
	bash scripts/setup.sh

demo: setup
	rm -rf $(DEMO_DIR)
	$(PY) tools/make_demo_data.py --out data/demo_coco
	$(PY) tools/train.py $(DEMO_CFG) --work-dir $(DEMO_DIR)
	$(PY) tools/test.py $(DEMO_CFG) $$(cat $(DEMO_DIR)/last_checkpoint) --work-dir $(DEMO_DIR)/test

test: setup
	$(PY) -m ruff check .
	$(PY) -m pytest tests -m "not slow"

test-all: setup
	$(PY) -m ruff check .
	$(PY) -m pytest tests
