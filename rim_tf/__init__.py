"""rim_tf: Recurrent Inference Machines (Putzky & Welling, ICLR 2017) in TF2 / Keras 3."""

__version__ = "0.1.0"
