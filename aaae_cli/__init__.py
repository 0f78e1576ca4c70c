"""aaae: Adversarially Approximated Autoencoders on the command line.

The light runtime (this package) runs exported ONNX bundles with onnxruntime and never imports
torch. Training and export live in :mod:`aaae_train`, installed with ``pip install "aaae[train]"``.
"""

__version__ = "0.1.0"
