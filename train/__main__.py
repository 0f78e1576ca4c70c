"""``python -m aaae_train ...`` is ``aaae ...`` (handy under ``torchrun -m aaae_train train ...``)."""

from aaae_cli.cli import main

main()
