"""The model bundle: one folder (one Hugging Face Hub repo) of ONNX graphs and JSON, read as hostile input.

=============  ==========================================================================================
``folder``     the bundle folder: its files, checksums and self-contained graphs
``config``     ``config.json``, typed: its one owner
``attributes`` ``attributes.json``: named edit directions and their strengths (the file type and its use)
``safe_json``  schema, size and depth of every bundle JSON file
``writer``     the one writer of bundles (built beside the old one, then swapped in)
``swap``       replacing a bundle folder whole, never anything else
``card``       the bundle's ``README.md``: a Hub model card
``locate``     finding a model: built-in name, local folder or Hub id
``hub``        publishing a bundle on the Hub (``aaae push``)
=============  ==========================================================================================
"""
