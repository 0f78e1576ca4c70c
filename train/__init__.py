"""aaae_train: PyTorch training and export of AAAE models (install with ``pip install "aaae[train]"``).

Modules: :mod:`~aaae_train.networks` (the five networks), :mod:`~aaae_train.algorithm` (the updates of
Algorithm 1), :mod:`~aaae_train.loop` (runs: resume, schedules, snapshots), :mod:`~aaae_train.data`
(folders, CelebA, MNIST), :mod:`~aaae_train.api` (the Python entry point).
"""
