"""``aaae studio``: the browser studio, beside the Python API (Gradio is imported only by ``page``).

========  ==============================================================================================
``core``  what the studio does, as plain functions over the Python API (testable without a browser)
``page``  the Gradio page: one builder per tab, components addressed by name
========  ==============================================================================================
"""
