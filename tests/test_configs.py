"""Tests of rim_tf.configs: presets, JSON round trip, overrides."""

import dataclasses
import json

import pytest

from rim_tf import configs
from rim_tf import tasks

TASKS = ("denoise", "denoise_color", "superres", "random_projections")


@pytest.mark.parametrize("preset,task", [
    (preset, task) for preset in configs.PRESETS for task in TASKS])
def test_every_preset_exists_builds_its_task_and_survives_json(preset, task):
  config = configs.preset(preset, task)
  assert config.task == task
  built = tasks.make(config.task, **config.task_args)
  assert built.name == task
  assert config.data.batch_size >= 1 and config.trainer.rim_steps >= 1
  text = config.to_json()
  assert configs.ExperimentConfig.from_json(text) == config
  assert configs.ExperimentConfig.from_json(text).to_json() == text


@pytest.mark.parametrize("task", TASKS)
def test_paper_preset_has_the_published_sizes(task):
  config = configs.preset("paper", task)
  assert config.data.batch_size == 32
  assert config.trainer.rim_steps == 20
  assert config.model.features == 64
  if task == "superres":  # Footnote 5: the full-resolution a-trous cell.
    assert (config.model.architecture, config.model.gru_features) == (
        "atrous", 64)
  else:
    assert (config.model.architecture, config.model.gru_features) == (
        "rim", 256)


@pytest.mark.parametrize("task", ["denoise", "denoise_color"])
def test_cpu_denoise_presets_round_trip_their_task_args(task):
  config = configs.preset("cpu", task)
  assert config.task_args == {"sigma_range_255": (5.0, 55.0)}
  # Colour keeps Table 1's 8-bit quantized noisy images.
  assert tasks.make(task, **config.task_args).quantize == (
      task == "denoise_color")
  # JSON turns the tuple into a list; the config reads it back as a tuple.
  assert configs.ExperimentConfig.from_json(config.to_json()) == config


def test_only_the_colour_cpu_recipe_augments_its_patches():
  for name in configs.PRESETS:
    for task in TASKS:
      assert configs.preset(name, task).data.augment == (
          name.startswith("cpu") and task == "denoise_color"), (name, task)
  # A config written before the field existed reads back unaugmented.
  values = json.loads(configs.preset("cpu", "denoise_color").to_json())
  del values["data"]["augment"]
  assert not configs.ExperimentConfig.from_dict(values).data.augment


def test_cpu_superres_preset_warm_starts_from_the_shipped_denoiser():
  config = configs.preset("cpu", "superres")
  assert config.trainer.init_weights == "denoise_gray"
  assert not config.trainer.init_continue
  assert config.trainer.train_steps == 8000
  # The same cell as the denoiser, so the weights load as they are.
  assert config.model == configs.preset("cpu", "denoise").model
  for task in ("denoise", "denoise_color", "random_projections"):
    assert configs.preset("cpu", task).trainer.init_weights is None
  assert configs.preset("paper", "superres").trainer.init_weights is None


def test_cpu_deblur_preset_restarts_the_donors_eps_and_starts_from_wiener():
  config = configs.preset("cpu", "deblur")
  assert config.trainer.init_weights == "denoise_gray"
  # The same cell as the denoiser, so its weights load as they are.
  assert dataclasses.replace(config.model, epsilon_init=1e-3) == (
      configs.preset("cpu", "denoise").model)
  # The denoiser's eps (a noise floor near 12/255) would temper the blur's
  # data term; the run starts it again at 1e-4.
  assert not config.trainer.init_keep_likelihood
  assert config.model.epsilon_init == 1e-4
  assert config.task_args["start"] == "wiener"
  assert configs.preset("cpu", "superres").trainer.init_keep_likelihood
  # A second stage trains deblurring weights on: their eps stays.
  assert configs.preset("cpu_finetune", "deblur").trainer.init_keep_likelihood


def test_cpu_random_projections_preset_has_its_own_budget():
  assert configs.preset("cpu", "random_projections").trainer.train_steps == (
      4000)
  assert configs.preset("cpu", "denoise").trainer.train_steps == 15000


@pytest.mark.parametrize("task,shipped,patch", [
    ("denoise", "denoise_gray", 64), ("denoise_color", "denoise_color", 64),
    ("superres", "superres", 72)])
def test_cpu_finetune_trains_the_shipped_model_on_for_its_final_estimate(
    task, shipped, patch):
  config = configs.preset("cpu_finetune", task)
  first_stage = configs.preset("cpu", task)
  assert config.model == first_stage.model  # The weights load as they are.
  assert config.trainer.init_weights == shipped
  assert config.trainer.loss_step_weights == "final"
  assert config.trainer.loss_example_weights == "inverse_mse"
  assert first_stage.trainer.loss_step_weights == "uniform"
  assert first_stage.trainer.loss_example_weights == "uniform"
  assert (config.trainer.learning_rate, config.trainer.train_steps) == (
      2e-4, 3000)
  # Twice the patch side at a quarter of the batch: the same pixels per step.
  assert config.task_args["patch"] == patch
  assert config.data.batch_size == first_stage.data.batch_size // 4 == 8
  assert {k: v for k, v in config.task_args.items() if k != "patch"} == (
      first_stage.task_args)


def test_cpu_finetune_trains_random_projections_on_at_the_papers_t():
  config = configs.preset("cpu_finetune", "random_projections")
  first_stage = configs.preset("cpu", "random_projections")
  assert (first_stage.trainer.rim_steps, config.trainer.rim_steps) == (10, 20)
  assert config.trainer.init_weights == "random_projections"
  assert (config.trainer.learning_rate, config.trainer.train_steps) == (
      1e-3, 1000)
  # Only T, the start, the rate and the length change: the same loss,
  # patches and cell.
  assert dataclasses.replace(
      config.trainer, rim_steps=10, init_weights=None, learning_rate=3e-3,
      train_steps=4000) == first_stage.trainer
  assert (config.model, config.data, config.task_args) == (
      first_stage.model, first_stage.data, first_stage.task_args)


def test_unknown_preset_is_rejected():
  with pytest.raises(ValueError, match="preset must be one of"):
    configs.preset("huge", "denoise")


def test_override_replaces_dotted_fields_and_keeps_the_rest():
  config = configs.preset("smoke", "superres")
  new = configs.override(config, {
      "trainer.rim_steps": 3, "trainer.learning_rate": 1,
      "trainer.clip_norm": None, "model.features": 8,
      "data.data_dir": "/data", "task_args.scales": [2, 4]})
  assert new.trainer.rim_steps == 3
  assert new.trainer.learning_rate == 1.0
  assert isinstance(new.trainer.learning_rate, float)  # int widened
  assert new.trainer.clip_norm is None
  assert new.model.features == 8 and new.data.data_dir == "/data"
  assert new.task_args == {"scales": (2, 4)}
  assert tasks.make(new.task, **new.task_args).scales == (2, 4)
  assert dataclasses.replace(new.trainer, rim_steps=4, learning_rate=3e-3,
                             clip_norm=1.0) == config.trainer
  assert config.trainer.rim_steps == 4  # The original is untouched.


def test_override_applies_the_task_before_its_arguments():
  config = configs.override(
      configs.preset("smoke", "superres"),
      {"task_args.sigma_range_255": [5, 10], "task": "denoise"})
  assert config.task == "denoise"
  assert config.task_args == {"sigma_range_255": (5, 10)}


@pytest.mark.parametrize("key, value, message", [
    ("trainer.rim_stepz", 3, "unknown config field 'trainer.rim_stepz'"),
    ("trainers.rim_steps", 3, "'trainers' is not a section"),
    ("trainer.rim_steps.x", 3, "is not a section"),
    ("bogus", 3, "unknown config field 'bogus'"),
    ("task_args.scales", [2], "task 'denoise' has the fields"),
    ("task", "inpaint", "must be one of"),
    ("task_args", [1], "must be a dict"),
    ("trainer.rim_steps", "ten", "must be int"),
    ("trainer.train_steps", 1e4, "must be int"),
    ("trainer.rim_steps", True, "must be int"),
    ("trainer.mixed_precision", 1, "must be bool"),
    ("trainer.learning_rate", None, "must be float"),
    ("model.ablation", 3, "must be str or None"),
])
def test_override_rejects_bad_keys_and_values(key, value, message):
  with pytest.raises(ValueError, match=message):
    configs.override(configs.preset("smoke", "denoise"), {key: value})


def test_parse_overrides_reads_json_values_and_plain_strings():
  values = configs.parse_overrides([
      "trainer.rim_steps=10", "trainer.learning_rate=1e-4",
      "trainer.clip_norm=null", "trainer.jit_compile=true",
      "model.architecture=atrous", "task_args.scales=[2, 3]",
      "data.data_dir=/a=b", " data.seed =7"])
  assert values == {
      "trainer.rim_steps": 10, "trainer.learning_rate": 1e-4,
      "trainer.clip_norm": None, "trainer.jit_compile": True,
      "model.architecture": "atrous", "task_args.scales": [2, 3],
      "data.data_dir": "/a=b", "data.seed": 7}
  config = configs.override(configs.preset("smoke", "superres"), values)
  assert config.trainer.rim_steps == 10 and config.task_args["scales"] == (
      2, 3)


@pytest.mark.parametrize("assignment", ["trainer.rim_steps", "=3", ""])
def test_parse_overrides_rejects_assignments_without_key_or_value(
    assignment):
  with pytest.raises(ValueError, match="section.field=value"):
    configs.parse_overrides([assignment])


def test_from_json_rejects_unknown_fields():
  text = configs.preset("smoke", "denoise").to_json().replace(
      '"rim_steps"', '"rim_stepz"')
  with pytest.raises(ValueError, match=r"trainer\.rim_stepz"):
    configs.ExperimentConfig.from_json(text)
