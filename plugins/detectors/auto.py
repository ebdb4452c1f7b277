"""The ``auto`` face detector: dlib's HOG first, OpenCV's Haar cascade when dlib finds nothing.

dlib's HOG is the more precise of the two and gives the boxes the dlib shape predictor was
trained on; the Haar cascade finds some faces HOG misses (e.g. faces smaller than HOG's 80 px
window at ``upsample: 0``). Boxes from either come out in the same pixel frame.
"""
from __future__ import annotations

import numpy as np

from facerecon.interfaces import BuildContext, FaceBox, FaceDetector

from . import AutoFaceParams, DlibFaceParams, OpenCVFaceParams
from .dlib_detectors import DlibFaceDetector
from .opencv_detector import OpenCVFaceDetector

__all__ = ["AutoFaceDetector"]


class AutoFaceDetector(FaceDetector):
    """dlib HOG detection, falling back to the OpenCV Haar cascade on images where dlib finds none.

    Attributes:
        last_source: ``"dlib"``, ``"opencv"`` or ``None``: which detector produced the last result.
    """

    def __init__(self, params: AutoFaceParams, context: BuildContext) -> None:
        super().__init__(params, context)
        self.primary = DlibFaceDetector(DlibFaceParams(params.upsample, params.min_score), context)
        self.fallback = OpenCVFaceDetector(
            OpenCVFaceParams(params.scale_factor, params.min_neighbors, params.min_size), context
        )
        self.last_source: str | None = None

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """(H, W, 3) uint8 RGB -> face boxes in pixels, best first (may be empty)."""
        for source, detector in (("dlib", self.primary), ("opencv", self.fallback)):
            boxes = detector.detect(image)
            if boxes:
                self.last_source = source
                return boxes
        self.last_source = None
        return []
