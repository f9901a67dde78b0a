"""rim_tf: Recurrent Inference Machines (Putzky & Welling, ICLR 2017) in TensorFlow 2 / Keras 3."""

import setuptools

setuptools.setup(
    name="rim_tf",
    version="0.1.0",
    description=("Recurrent Inference Machines for solving inverse problems "
                 "(Putzky & Welling, 2017) in TensorFlow 2 / Keras 3."),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=setuptools.find_packages(include=["rim_tf", "rim_tf.*"]),
    package_data={"rim_tf": ["data/*.txt", "data/*.npz",
                             "pretrained/*.weights.h5", "pretrained/*.json",
                             "pretrained/README.md"]},
    install_requires=[
        "tensorflow>=2.16",
        "keras>=3.0",
        "tensorflow-datasets",
        "numpy",
        "scikit-image",
        "matplotlib",
        "absl-py",
        "bm3d",
        "tqdm",
        "tensorboard",
        "importlib_resources",
        "pillow",
        "pypng",
        "tifffile",
    ],
    extras_require={"test": ["pytest", "pytest-timeout", "pytest-xdist"],
                    # The converters and runtimes of `rim-export`.
                    "export": ["tf2onnx", "onnx", "onnxruntime",
                               "ai-edge-litert"]},
    entry_points={"console_scripts": [
        "rim-restore=rim_tf.inference.cli:run",
        "rim-export=rim_tf.inference.export_cli:run"]},
)
