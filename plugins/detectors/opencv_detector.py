"""OpenCV's Haar cascade frontal face detector (Viola & Jones).

Needs OpenCV 4.x: OpenCV 5 removed ``cv2.CascadeClassifier`` and the cascade files from its
wheels, hence ``opencv-python-headless<5`` in the dependencies.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from facerecon.imaging import to_rgb8
from facerecon.interfaces import BuildContext, FaceBox, FaceDetector

from . import OpenCVFaceParams
from .common import BackendUnavailable, DetectorSetupError, best_first

__all__ = ["CASCADE_FILE", "OpenCVFaceDetector"]

CASCADE_FILE = "haarcascade_frontalface_default.xml"


def _load_cascade():
    import cv2

    path = Path(getattr(getattr(cv2, "data", None), "haarcascades", "")) / CASCADE_FILE
    if not hasattr(cv2, "CascadeClassifier") or not path.is_file():
        raise BackendUnavailable(
            f"face_detector 'opencv' needs cv2.CascadeClassifier and {CASCADE_FILE}, which this OpenCV "
            f"({cv2.__version__}) does not ship (OpenCV 5 removed both). Install OpenCV 4 with "
            "`pip install 'opencv-python-headless<5'`, or use the 'dlib' face detector."
        )
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise DetectorSetupError(f"face_detector 'opencv': OpenCV could not load the cascade {path}.")
    return cascade


class OpenCVFaceDetector(FaceDetector):
    """OpenCV's Haar cascade (``haarcascade_frontalface_default.xml``) on the grey image.

    About 0.06 s for a 512×512 photo. Scores are the cascade's level weights (not comparable with
    dlib's). Boxes start higher (forehead) than dlib's; the dlib shape predictor copes with both.
    """

    def __init__(self, params: OpenCVFaceParams, context: BuildContext) -> None:
        super().__init__(params, context)
        self._cascade = _load_cascade()

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """(H, W, 3) uint8 RGB -> face boxes in pixels, best first (may be empty)."""
        import cv2

        grey = cv2.cvtColor(to_rgb8(image), cv2.COLOR_RGB2GRAY)
        size = (self.params.min_size, self.params.min_size)
        rects, _, weights = self._cascade.detectMultiScale3(
            grey, scaleFactor=self.params.scale_factor, minNeighbors=self.params.min_neighbors,
            minSize=size, outputRejectLevels=True,
        )
        boxes = [
            FaceBox(float(x), float(y), float(x + w), float(y + h), float(score))
            for (x, y, w, h), score in zip(np.reshape(rects, (-1, 4)), np.reshape(weights, -1))
        ]
        return best_first(boxes)
