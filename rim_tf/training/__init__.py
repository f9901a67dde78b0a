"""Training: the loop (`Trainer`) that drives a Task under a tf.distribute
strategy, its run folder and checkpoints, warm starts, the weight average,
batch-norm calibration and the export writer."""

from rim_tf.training.optimization import learning_rate_schedule
from rim_tf.training.optimization import make_optimizer
from rim_tf.training.strategy import make_strategy
from rim_tf.training.trainer import DivergedError
from rim_tf.training.trainer import Trainer
