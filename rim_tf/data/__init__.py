"""Data: BSDS300 (find / download / load), patches, corruptions, built-ins.

The TFDS builder lives in `rim_tf.data.tfds_bsds300` (import it to register
"bsds300" with tensorflow_datasets); it is not imported here to keep
tensorflow_datasets optional and imports fast.
"""

from rim_tf.data.bsds import BSD68
from rim_tf.data.bsds import CorruptDataError
from rim_tf.data.bsds import DataNotFoundError
from rim_tf.data.bsds import find_bsds300
from rim_tf.data.bsds import load_image
from rim_tf.data.bsds import load_images
from rim_tf.data.builtin import builtin_images
from rim_tf.data.corruptions import BicubicDownsampling
from rim_tf.data.corruptions import Blurring
from rim_tf.data.corruptions import Corruption
from rim_tf.data.corruptions import GaussianNoise
from rim_tf.data.corruptions import RandomProjections
from rim_tf.data.patches import count_patches
from rim_tf.data.patches import PatchDataset
