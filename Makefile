# One command per target: every target calls an experiments/ binary.
#   make reproduce-denoise            # PRESET=cpu by default; PRESET=paper on a GPU
#   make reproduce-rp PRESET=smoke    # minutes, end to end
PYTHON ?= python
PRESET ?= cpu
DATA_DIR ?= $(if $(RIM_DATA_DIR),$(RIM_DATA_DIR),data)
RUNS ?= $(HOME)/rim_runs
OUT ?= results/$(PRESET)
# The paper's reproductions (rim_tf/reproduce.py): train, calibrate,
# evaluate, draw.
REPRODUCE = $(PYTHON) experiments/reproduce.py --preset=$(PRESET) \
  --data_dir=$(DATA_DIR) --runs=$(RUNS) --out=$(OUT)

.PHONY: install test evaluate tensorboard reproduce-denoise reproduce-color \
	reproduce-sr reproduce-rp reproduce-deblur benchmark-model \
	benchmark-pipeline benchmark-blur benchmark-deblur \
	benchmark-inference benchmark-color benchmark-tiling \
	benchmark-cli-memory benchmark-allocator recipe-search

install:
	pip install -e ".[test,export]"

test:
	$(PYTHON) -m pytest

tensorboard:
	tensorboard --logdir=$(RUNS)

# Every shipped model against its baseline, and Figure 2: hours on a CPU.
# A rerun skips what was done with the same weights (results/shipped/*.done)
# and the baselines' results it has (RUNS/baseline_cache).
evaluate:
	$(PYTHON) experiments/evaluate.py --data_dir=$(DATA_DIR) --shipped \
	  $(if $(filter smoke,$(PRESET)),--num_images=2,) --output=results/shipped \
	  --baseline_cache=$(RUNS)/baseline_cache

reproduce-denoise:
	$(REPRODUCE) --target=denoise

reproduce-color:
	$(REPRODUCE) --target=color

reproduce-sr:
	$(REPRODUCE) --target=sr

reproduce-rp:
	$(REPRODUCE) --target=rp

# Deblurring (not in the paper): Levin et al.'s kernels, BM3D beside.
reproduce-deblur:
	$(REPRODUCE) --target=deblur

benchmark-model:
	$(PYTHON) experiments/benchmarks/model_speed.py

benchmark-pipeline:
	$(PYTHON) experiments/benchmarks/pipeline_speed.py --data_dir=$(DATA_DIR)

benchmark-inference:
	$(PYTHON) experiments/benchmarks/inference_speed.py --data_dir=$(DATA_DIR)

benchmark-color:
	$(PYTHON) experiments/benchmarks/color_speed.py --data_dir=$(DATA_DIR)

benchmark-tiling:
	$(PYTHON) experiments/benchmarks/tiling_agreement.py --data_dir=$(DATA_DIR)

benchmark-blur:
	$(PYTHON) experiments/benchmarks/blur_speed.py

# The shipped deblurring RIM, or WEIGHTS=PATH.weights.h5 (e.g. a run's export).
benchmark-deblur:
	$(PYTHON) experiments/benchmarks/deblur_speed.py --data_dir=$(DATA_DIR) \
	  --weights=$(or $(WEIGHTS),deblur)

benchmark-cli-memory:
	$(PYTHON) experiments/benchmarks/cli_memory.py

# Training steps of the gray cpu recipe with and without the trainer's
# allocator setting, each in a process of its own.
benchmark-allocator:
	$(PYTHON) experiments/benchmarks/allocator_speed.py --data_dir=$(DATA_DIR)

# The cpu recipe's search (docs/training.md): each candidate trains 10 minutes.
#   make recipe-search SEARCH_TASK=superres
SEARCH_TASK ?= denoise
recipe-search:
	$(PYTHON) experiments/recipe_search.py --data_dir=$(DATA_DIR) \
	  --task=$(SEARCH_TASK) --runs=$(RUNS)/search_$(SEARCH_TASK) \
	  --output=$(OUT)/recipe_search_$(SEARCH_TASK)
