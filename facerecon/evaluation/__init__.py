"""Accuracy evaluation: ground-truth faces, reconstructions and how far apart they are.

Modules (import them by name; this package itself imports nothing heavy, so registration
modules may use :mod:`.settings`):

- :mod:`.truth`: :class:`~.truth.FaceTruth`, what a photo was made from, and its ``.npz`` file;
- :mod:`.settings` and :mod:`.draw`: drawing random ground-truth faces from a model's priors;
- :mod:`.backgrounds`: photo backgrounds without faces for synthetic photos;
- :mod:`.prediction`: :class:`~.prediction.Prediction`, what a reconstruction is scored on, and its file;
- :mod:`.metrics`: alignment, vertex-to-vertex and point-to-surface distances, PSNR...;
- :mod:`.scoring`: one reconstruction against its truth (or against its photo alone).
"""
