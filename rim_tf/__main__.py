"""`python -m rim_tf`: the same as the `rim-restore` command."""

from rim_tf.inference import cli

cli.run()
