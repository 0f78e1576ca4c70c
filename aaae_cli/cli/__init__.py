"""The ``aaae`` command line, one module per command group; read it as the list of commands:

=====================  ==========================================================================================
:mod:`.train`          ``aaae train``: train or resume a model (imports torch only when it runs)
:mod:`.images`         ``aaae sample``, ``reconstruct``, ``interpolate``: images from the model
:mod:`.photos`         ``aaae edit``, ``faces``: your photos, edited at their own resolution
:mod:`.studio`         ``aaae studio``: the same in the browser (Gradio, only when it runs)
:mod:`.model`          ``aaae info``, ``export``, ``push``: the model as a bundle of files
:mod:`.eval`           ``aaae eval``: measure a model; ``aaae evaluator train``: the classifiers it judges with
:mod:`.attributes`     ``aaae attributes list``, ``compute``, ``calibrate``: the edit directions
:mod:`.data`           ``aaae data pack``: a dataset prepared once into one zip (imports aaae_train when it runs)
=====================  ==========================================================================================

:mod:`.app` builds the typer app from them and holds :func:`main` (the ``aaae`` entry point); :mod:`._options`
holds the options several commands share (``--model``, ``--device``, ...) and the parsing of ``--attr``/``--sweep``,
:mod:`._usage` turns typer's usage errors into one ``error:`` line. What only commands need: :mod:`._output`
(folders that appear whole, grid and GIF bounds), :mod:`._folder_edits` (names and checks of a folder of edits),
:mod:`._overwrite` (never write over an input or into a model) and :mod:`._torch` (the one door to
``aaae_train``). Each command's ``--help`` examples sit on its decorator.

Every command is a thin wrapper over the library beside this package (:mod:`aaae_cli.api`,
:mod:`aaae_cli.photos.edit`, :mod:`aaae_cli.evaluation.evaluate`, ...), which never imports it. Commands import the
library inside their bodies, so ``aaae --help`` loads neither onnxruntime nor torch.
"""

from aaae_cli.cli.app import app, main

__all__ = ["app", "main"]
