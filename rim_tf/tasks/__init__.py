"""One Task per inverse problem, and the registry every `--task` reads.

    task = rim_tf.tasks.get("denoise")(sigma_range_255=(5.0, 55.0))
    rim_tf.tasks.register(MyTask)   # a problem of your own

A registered task works with `experiments/train.py`, `experiments/
evaluate.py` unchanged (`--task_module=YOUR_MODULE`) and loads with
`rim_tf.pretrained.load` once its module is imported.
"""

import dataclasses

from rim_tf.tasks.base import Evaluation
from rim_tf.tasks.base import Task
from rim_tf.tasks.deblur import Deblur
from rim_tf.tasks.denoise import Denoise
from rim_tf.tasks.denoise import DenoiseColor
from rim_tf.tasks.random_projections import RandomProjections
from rim_tf.tasks.superres import SuperResolution

_REGISTRY = {}


def register(cls):
  """Adds a Task subclass (a frozen dataclass with a unique `name`) to the
  registry; returns it, so it also serves as a class decorator."""
  if not (isinstance(cls, type) and issubclass(cls, Task)):
    raise TypeError(f"register takes a rim_tf.tasks.Task subclass, got "
                    f"{cls!r}.")
  if not isinstance(cls.name, str) or not cls.name:
    raise ValueError(f"{cls.__name__} needs a class attribute `name`.")
  if not dataclasses.is_dataclass(cls):
    raise ValueError(f"{cls.__name__} must be a dataclass (its fields are "
                     f"the task's arguments, task_args in a config).")
  known = _REGISTRY.get(cls.name)
  if known is not None and known is not cls:
    raise ValueError(f"a task named {cls.name!r} is registered already "
                     f"({known.__module__}.{known.__qualname__}).")
  _REGISTRY[cls.name] = cls
  return cls


def names():
  """The registered task names, sorted."""
  return sorted(_REGISTRY)


def get(name):
  """The Task class registered as `name`."""
  if name not in _REGISTRY:
    raise ValueError(f"task must be one of {names()}, got {name!r} (a task "
                     f"of your own is known once the module that registers "
                     f"it is imported: --task_module in the binaries).")
  return _REGISTRY[name]


def fields(name):
  """The argument names (dataclass fields) of task `name`."""
  return sorted(f.name for f in dataclasses.fields(get(name)))


def make(name, **kwargs):
  """A task by registry name with its dataclass fields as keyword args."""
  cls = get(name)
  unknown = sorted(set(kwargs) - set(fields(name)))
  if unknown:
    raise ValueError(f"task {name!r} has no arguments {unknown}; it takes "
                     f"{fields(name)}.")
  kwargs = {k: tuple(v) if isinstance(v, list) else v
            for k, v in kwargs.items()}
  return cls(**kwargs)


def from_config(config):
  """The task of an ExperimentConfig (its `task` and `task_args`)."""
  return make(config.task, **config.task_args)


for _cls in (Denoise, DenoiseColor, SuperResolution, RandomProjections,
             Deblur):
  register(_cls)
