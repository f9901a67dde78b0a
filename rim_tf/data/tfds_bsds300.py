"""A tensorflow_datasets builder for BSDS300 ("bsds300", manual download).

    import rim_tf.data.tfds_bsds300  # registers "bsds300"
    ds = tfds.load("bsds300", split="test", download_and_prepare_kwargs={
        "download_config": tfds.download.DownloadConfig(manual_dir=DIR)})

DIR (default `<tfds data_dir>/downloads/manual`) holds BSDS300/ or
BSDS300-images.tgz, exactly as for `rim_tf.data.bsds.find_bsds300`. Each
example: "image" uint8 [H, W, 3] (decoded with `bsds.load_image`, so the
pixels equal the rest of rim_tf's), "id" (text), "in_bsd68" (bool).
"""

import numpy as np
import tensorflow_datasets as tfds

from rim_tf.data import bsds


class Bsds300(tfds.core.GeneratorBasedBuilder):
  """BSDS300 (Martin et al. 2001): 200 train and 100 test images."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release."}
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      f"Download {bsds.OFFICIAL_URL} (SHA-256 {bsds.OFFICIAL_SHA256}) into "
      f"the manual_dir, or extract it there so that it holds "
      f"{bsds.FOLDER_NAME}/images/{{train,test}} and "
      f"{bsds.FOLDER_NAME}/iids_{{train,test}}.txt.")

  def _info(self):
    return self.dataset_info_from_configs(
        description=("The Berkeley Segmentation Dataset images, as used by "
                     "Putzky & Welling (2017): 200 training and 100 test "
                     "images; 68 test images form BSD68 (Roth & Black 2005)."),
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=(None, None, 3)),
            "id": tfds.features.Text(),
            "in_bsd68": tfds.features.Scalar(dtype=np.bool_),
        }),
        homepage="https://www2.eecs.berkeley.edu/Research/Projects/CS/vision/"
                 "bsds/",
        citation=("@inproceedings{martin2001database, title={A Database of "
                  "Human Segmented Natural Images and its Application to "
                  "Evaluating Segmentation Algorithms and Measuring "
                  "Ecological Statistics}, author={Martin, D. and Fowlkes, "
                  "C. and Tal, D. and Malik, J.}, booktitle={ICCV}, "
                  "year={2001}}"),
    )

  def _split_generators(self, dl_manager):
    bsds_dir = bsds.find_bsds300(dl_manager.manual_dir, download=False)
    return {split: self._generate_examples(bsds_dir, split)
            for split in bsds.SPLITS}

  def _generate_examples(self, bsds_dir, split):
    bsd68 = set(bsds.BSD68)
    for image_id in bsds.read_ids(bsds_dir, split):
      image = bsds.load_image(bsds.image_path(bsds_dir, split, image_id),
                              gray=False)
      yield image_id, {"image": image, "id": image_id,
                       "in_bsd68": image_id in bsd68}
