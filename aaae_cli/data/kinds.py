"""The kinds of data path ``aaae train --dataset`` accepts, named once: :mod:`aaae_cli.data.sources` reads them,
the training options (:mod:`aaae_train.options`) check them and the CLI's help lists them. A module of its own so
that the options, which the CLI reads for its defaults, need not import the data readers to know them."""

from __future__ import annotations

SOURCE_KINDS = ("auto", "folder", "celeba", "mnist", "archive")
SOURCE_KINDS_TEXT = f"{', '.join(SOURCE_KINDS[:-1])} or {SOURCE_KINDS[-1]}"
