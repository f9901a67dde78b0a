"""Images side by side in one PNG, each titled (rim-restore --compare, the
paper's Figures 3 and 4)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top


def example_panel(images, path, title=None):
  """Figures 3 and 4: images side by side, each titled with its score.

  Args:
    images: list of (label, image [H, W] or [H, W, C] uint8 or float [0, 1]).
    path: PNG to write.
  """
  fig, axes = plt.subplots(1, len(images), figsize=(3.6 * len(images), 3.4),
                           squeeze=False)
  for ax, (label, image) in zip(axes[0], images):
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
      image = image[..., 0]
    ax.imshow(image, cmap="gray" if image.ndim == 2 else None,
              vmin=0, vmax=255 if image.dtype == np.uint8 else 1)
    ax.set_title(label, fontsize=9)
    ax.axis("off")
  if title:
    fig.suptitle(title)
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)
  return path


def grid_panel(rows, path, width=2.6):
  """Rows of titled images in one PNG (`rim-restore demo`).

  Args:
    rows: list of rows, each a list of (label, image [H, W] or [H, W, C]
      uint8); every row has as many images.
    path: PNG to write.
    width: inches per image.
  """
  columns = max(len(row) for row in rows)
  fig, axes = plt.subplots(len(rows), columns,
                           figsize=(width * columns, width * len(rows)),
                           squeeze=False)
  for ax_row, row in zip(axes, rows):
    for ax, (label, image) in zip(ax_row, row):
      image = np.asarray(image)
      if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
      ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0,
                vmax=255)
      ax.set_title(label, fontsize=9)
    for ax in ax_row:
      ax.axis("off")
  fig.tight_layout()
  fig.savefig(path, dpi=80)
  plt.close(fig)
  return path
