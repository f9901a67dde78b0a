"""A small natural-image set from the images scikit-image ships (offline).

For demos and tests when BSDS300 is absent. All come with the scikit-image
wheel (no download). Gray images are MATLAB rgb2gray of the RGB ones
(`rim_tf.metrics.rgb2gray_uint8`) plus the photos that are gray already.
"""

import numpy as np
from skimage import data as skdata

from rim_tf import metrics

# name -> loader returning uint8 [H, W, 3] (RGB photos).
_RGB = {
    "astronaut": skdata.astronaut,          # 512 x 512
    "chelsea": skdata.chelsea,              # 300 x 451
    "coffee": skdata.coffee,                # 400 x 600
    "rocket": skdata.rocket,                # 427 x 640
    "motorcycle": lambda: skdata.stereo_motorcycle()[0],  # 500 x 741
}
# name -> loader returning uint8 [H, W] (gray photos).
_GRAY = {
    "camera": skdata.camera,                # 512 x 512
    "coins": skdata.coins,                  # 303 x 384
    "moon": skdata.moon,                    # 512 x 512
    "clock": skdata.clock,                  # 300 x 400
}


def builtin_names(gray=True):
  """Names `builtin_images(gray)` returns, in its order."""
  return tuple(_RGB) + (tuple(_GRAY) if gray else ())


def builtin_images(gray=True, names=None):
  """Natural photos shipped with scikit-image.

  Args:
    gray: gray [H, W, 1] (all nine photos) if True, else RGB [H, W, 3] (the
      five colour photos).
    names: optional subset of `builtin_names(gray)`.

  Returns:
    dict name -> uint8 [H, W, C].
  """
  available = builtin_names(gray)
  names = available if names is None else tuple(names)
  unknown = [n for n in names if n not in available]
  if unknown:
    raise ValueError(f"Unknown built-in images {unknown}; with gray={gray} "
                     f"they are {available}.")
  images = {}
  for name in names:
    if name in _RGB:
      rgb = np.ascontiguousarray(_RGB[name]()[..., :3])
      images[name] = metrics.rgb2gray_uint8(rgb, keepdims=True) if gray else rgb
    else:
      images[name] = np.ascontiguousarray(_GRAY[name]())[..., None]
  return images
