# Thin wrappers: every target calls the package or an experiments/ binary.
PYTHON ?= python
DATA_DIR ?= $(if $(RIM_DATA_DIR),$(RIM_DATA_DIR),data)

.PHONY: install test benchmark-model benchmark-pipeline

install:
	pip install -e ".[test]"

test:
	$(PYTHON) -m pytest

benchmark-model:
	$(PYTHON) experiments/benchmarks/model_speed.py

benchmark-pipeline:
	$(PYTHON) experiments/benchmarks/pipeline_speed.py --data_dir=$(DATA_DIR)
