"""Training and evaluation data as the runtime reads it (torch-free): above images, below photos and bundles.

===========  ===========================================================================================
``sources``  what a data path is (folder, archive, MNIST, CIFAR-10, CelebA), how its images are keyed and
             which are held out: the one owner
``kinds``    the ``--dataset`` kinds, named once
``archive``  reading the prepared archives ``aaae data pack`` writes
===========  ===========================================================================================
"""
