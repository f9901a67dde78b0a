"""Inference: `rim_tf.restore` (`api`), the restoration engine (`engine`),
tiling, image files, comparison panels and the `rim-restore` command line
(`cli`). Nothing here imports training or evaluation."""
