# Thin wrappers: every target calls an experiments/ binary; no logic here.
#   make reproduce-denoise            # PRESET=cpu by default; PRESET=paper on a GPU
#   make reproduce-rp PRESET=smoke    # minutes, end to end
PYTHON ?= python
PRESET ?= cpu
DATA_DIR ?= $(if $(RIM_DATA_DIR),$(RIM_DATA_DIR),data)
RUNS ?= $(HOME)/rim_runs
OUT ?= results/$(PRESET)
# Figure 2 on evaluate.py's default test patches (the paper's 5000); smoke
# uses fewer.
FIGURE2_PATCHES ?= $(if $(filter smoke,$(PRESET)),--num_images=300,)
# The smoke preset evaluates on a few images only.
EVAL_IMAGES ?= $(if $(filter smoke,$(PRESET)),--num_images=2,)

# $(call TRAIN_WITH,PRESET): experiments/train.py with that preset.
TRAIN_WITH = $(PYTHON) experiments/train.py --preset=$(1) --data_dir=$(DATA_DIR)
TRAIN = $(call TRAIN_WITH,$(PRESET))
# The cpu recipe's second stage (docs/training.md): the first stage's export
# trained on for the final estimate's mean PSNR on larger patches (random
# projections: at the paper's T = 20); other presets have one stage.
FINETUNE ?= $(if $(filter cpu,$(PRESET)),cpu_finetune,)
# $(call TRAINED,NAME): OUT's weights of NAME after its last training stage.
TRAINED = $(OUT)/$(1)$(if $(FINETUNE),_finetuned,).weights.h5
DENOISE_TRAINED = $(call TRAINED,denoise_gray)
# Every reproduction's last stage: batch-norm statistics per RIM step,
# calibrated on training patches (docs/training.md, session 13); the shipped
# models are calibrated the same way.
CALIBRATE = $(PYTHON) experiments/calibrate_norms.py --data_dir=$(DATA_DIR)
# $(call CALIBRATED,PATH): where PATH's calibrated weights go.
CALIBRATED = $(patsubst %.weights.h5,%_calibrated.weights.h5,$(1))
DENOISE_WEIGHTS = $(call CALIBRATED,$(DENOISE_TRAINED))
# $(call RP_TRAINED,MODEL): a random-projection model's (rim, gdn, ffn) last
# training stage; $(call RP_FINETUNE,MODEL) trains its second.
RP_TRAINED = $(call TRAINED,rp_$(1))
RP_CALIBRATED = $(call CALIBRATED,$(call RP_TRAINED,$(1)))
RP_FINETUNE = $(call TRAIN_WITH,$(FINETUNE)) --task=random_projections \
  --run_dir=$(RUNS)/rp_$(1)_$(FINETUNE) \
  --set=trainer.init_weights=$(OUT)/rp_$(1).weights.h5 \
  --export=$(call RP_TRAINED,$(1))
EVAL_ALL = $(PYTHON) experiments/evaluate.py --data_dir=$(DATA_DIR)
EVAL = $(EVAL_ALL) $(EVAL_IMAGES)
FIG = $(PYTHON) experiments/figures.py --data_dir=$(DATA_DIR)

.PHONY: install test evaluate tensorboard reproduce-denoise reproduce-color \
	reproduce-sr reproduce-rp benchmark-model benchmark-pipeline \
	benchmark-inference benchmark-tiling benchmark-cli-memory recipe-search

install:
	pip install -e ".[test]"

test:
	$(PYTHON) -m pytest

tensorboard:
	tensorboard --logdir=$(RUNS)

# Every shipped model against its baseline, and Figure 2: hours on a CPU.
# A rerun skips what was done with the same weights (results/shipped/*.done).
evaluate:
	$(EVAL) --shipped --output=results/shipped

$(OUT):
	mkdir -p $(OUT)

reproduce-denoise: | $(OUT)
	$(TRAIN) --task=denoise --run_dir=$(RUNS)/denoise_$(PRESET) \
	  --export=$(OUT)/denoise_gray.weights.h5
	$(if $(FINETUNE),$(call TRAIN_WITH,$(FINETUNE)) --task=denoise \
	  --run_dir=$(RUNS)/denoise_$(FINETUNE) \
	  --set=trainer.init_weights=$(OUT)/denoise_gray.weights.h5 \
	  --export=$(DENOISE_TRAINED))
	$(CALIBRATE) --weights=$(DENOISE_TRAINED) --output=$(DENOISE_WEIGHTS)
	$(EVAL) --task=denoise --methods=rim,bm3d --subset=bsd68,bsd100 \
	  --weights=$(DENOISE_WEIGHTS) \
	  --output='$(OUT)/denoise_{subset}.json'
	$(FIG) --figure=3 --weights=$(DENOISE_WEIGHTS) \
	  --output=$(OUT)/figure3.png

reproduce-color: | $(OUT)
	$(TRAIN) --task=denoise_color --run_dir=$(RUNS)/denoise_color_$(PRESET) \
	  --export=$(OUT)/denoise_color.weights.h5
	$(CALIBRATE) --weights=$(OUT)/denoise_color.weights.h5 \
	  --output=$(OUT)/denoise_color_calibrated.weights.h5
	$(EVAL) --task=denoise_color --methods=rim,bm3d --subset=bsd68,bsd100 \
	  --sigmas=25 --quantized=true \
	  --weights=$(OUT)/denoise_color_calibrated.weights.h5 \
	  --output='$(OUT)/denoise_color_{subset}.json'

reproduce-sr: | $(OUT)
	$(TRAIN) --task=superres --run_dir=$(RUNS)/superres_$(PRESET) \
	  --export=$(OUT)/superres.weights.h5
	$(CALIBRATE) --weights=$(OUT)/superres.weights.h5 \
	  --output=$(OUT)/superres_calibrated.weights.h5
	$(EVAL) --task=superres --methods=rim,bicubic --subset=bsd100 \
	  --weights=$(OUT)/superres_calibrated.weights.h5 \
	  --output=$(OUT)/superres_bsd100.json
	$(FIG) --figure=4 --weights=$(OUT)/superres_calibrated.weights.h5 \
	  --output=$(OUT)/figure4.png

reproduce-rp: | $(OUT)
	$(TRAIN) --task=random_projections --run_dir=$(RUNS)/rp_rim_$(PRESET) \
	  --export=$(OUT)/rp_rim.weights.h5
	$(TRAIN) --task=random_projections --run_dir=$(RUNS)/rp_gdn_$(PRESET) \
	  --set=model.ablation=gdn --export=$(OUT)/rp_gdn.weights.h5
	$(TRAIN) --task=random_projections --run_dir=$(RUNS)/rp_ffn_$(PRESET) \
	  --set=model.ablation=ffn --export=$(OUT)/rp_ffn.weights.h5
	$(if $(FINETUNE),$(call RP_FINETUNE,rim))
	$(if $(FINETUNE),$(call RP_FINETUNE,gdn) --set=model.ablation=gdn)
	$(if $(FINETUNE),$(call RP_FINETUNE,ffn) --set=model.ablation=ffn)
	$(CALIBRATE) --weights=$(call RP_TRAINED,rim) \
	  --output=$(call RP_CALIBRATED,rim)
	$(CALIBRATE) --weights=$(call RP_TRAINED,gdn) \
	  --output=$(call RP_CALIBRATED,gdn)
	$(EVAL_ALL) --task=random_projections --name=RIM,GDN,FFN \
	  --weights=$(call RP_CALIBRATED,rim),$(call RP_CALIBRATED,gdn),$(call RP_TRAINED,ffn) \
	  $(FIGURE2_PATCHES) --output=$(OUT)/figure2_curves.json
	$(FIG) --figure=2 --results=$(OUT)/figure2_curves.json \
	  --output=$(OUT)/figure2.png
	$(EVAL) --task=denoise --methods=rim,bm3d --subset=bsd68,bsd100 \
	  --weights=$(call RP_CALIBRATED,rim) --name=rim_3task \
	  --paper_rim=RIM-3task \
	  --output='$(OUT)/rim_3task_{subset}.json'

benchmark-model:
	$(PYTHON) experiments/benchmarks/model_speed.py

benchmark-pipeline:
	$(PYTHON) experiments/benchmarks/pipeline_speed.py --data_dir=$(DATA_DIR)

benchmark-inference:
	$(PYTHON) experiments/benchmarks/inference_speed.py --data_dir=$(DATA_DIR)

benchmark-tiling:
	$(PYTHON) experiments/benchmarks/tiling_agreement.py --data_dir=$(DATA_DIR)

benchmark-cli-memory:
	$(PYTHON) experiments/benchmarks/cli_memory.py

# The cpu recipe's search (docs/training.md): each candidate trains 10 minutes.
#   make recipe-search SEARCH_TASK=superres
SEARCH_TASK ?= denoise
recipe-search: | $(OUT)
	$(PYTHON) experiments/recipe_search.py --data_dir=$(DATA_DIR) \
	  --task=$(SEARCH_TASK) --runs=$(RUNS)/search_$(SEARCH_TASK) \
	  --output=$(OUT)/recipe_search_$(SEARCH_TASK)
