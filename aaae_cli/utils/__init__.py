"""Plumbing with no knowledge of models: the lowest layer, imported by everything above it.

=================  =====================================================================================
``atomic``         outputs that appear whole (temporary file beside the target, fsync, rename); permissions
``interrupts``     SIGTERM handled like Ctrl-C; temporaries named by their process, so leftovers are cleaned
``terminal``       text from outside (file names, bundle contents) made safe to print
``progress``       how library code reports progress; the one owner of the two consoles
``checks``         values users pass (seeds, counts, finite numbers), each refused in one line
``onnx_scan``      ONNX graphs refused before onnxruntime sees them (external data, control flow, custom ops)
=================  =====================================================================================
"""
