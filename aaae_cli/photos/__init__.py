"""A user's photos: finding faces, framing them as the model was trained, and laying an edit into the photo.

==========  =============================================================================================
``detect``  MTCNN on onnxruntime (numpy): every face with five landmarks, with bounded memory
``align``   where the model's square frame lies in a photo (Umeyama), cutting it out, pasting a change back
``io``      reading a photo whole (orientation, transparency, size bounds) and writing it in its own format
``edit``    the model's *change*, not its rendering, laid into the photo at its own resolution
``checks``  which faces can be edited well (pose, focus, size, fit), and why the others are skipped
==========  =============================================================================================
"""
