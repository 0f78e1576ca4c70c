"""Allow ``python -m aaae_cli``."""

from aaae_cli.cli import main

main()
