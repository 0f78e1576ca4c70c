"""Measuring models and deriving what bundles carry: above the Python API, which it uses.

==============  ========================================================================================
``evaluate``    ``aaae eval``: reconstruction error, judge-read attributes, Frechet distances, baselines
``metrics``     Frechet distance, Inception-style score and Gaussian baselines on feature vectors (numpy)
``fid``         FID and KID from Inception features handed in, real and generated statistics cached
``inception``   FID's Inception network on onnxruntime (converted once from NVIDIA's TorchScript file)
``calibrate``   ``aaae attributes calibrate``: how far "strength 1" of each edit goes
``directions``  ``aaae attributes compute``: mean-difference directions from labelled images
==============  ========================================================================================
"""
