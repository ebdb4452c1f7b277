"""The iBUG-68 landmark layout (dlib's ``shape_predictor_68_face_landmarks`` order).

Index groups as slices, for losses (per-group weights) and plotting (one polyline per group).
"Right" and "left" are the **subject's**: on a frontal photo the right eye (36–41) appears on the
image's left.

Example::

    from plugins.detectors.landmarks68 import GROUPS, MOUTH
    mouth_points = landmarks[..., MOUTH, :]        # (..., 20, 2)
"""
from __future__ import annotations

__all__ = [
    "NUM_LANDMARKS", "JAW", "RIGHT_BROW", "LEFT_BROW", "BROWS", "NOSE_BRIDGE", "NOSE_LOWER", "NOSE",
    "RIGHT_EYE", "LEFT_EYE", "EYES", "OUTER_LIPS", "INNER_LIPS", "MOUTH", "GROUPS", "CLOSED_GROUPS",
    "NEXTFACE_DROPPED",
]

NUM_LANDMARKS = 68

JAW = slice(0, 17)  # chin contour, from the subject's right ear to the left ear
RIGHT_BROW = slice(17, 22)
LEFT_BROW = slice(22, 27)
BROWS = slice(17, 27)
NOSE_BRIDGE = slice(27, 31)  # 30 is the nose tip
NOSE_LOWER = slice(31, 36)  # nostrils, 33 below the tip
NOSE = slice(27, 36)
RIGHT_EYE = slice(36, 42)
LEFT_EYE = slice(42, 48)
EYES = slice(36, 48)
OUTER_LIPS = slice(48, 60)  # 48 and 54 are the mouth corners
INNER_LIPS = slice(60, 68)
MOUTH = slice(48, 68)

#: The finest groups, in order; together they cover 0..67 exactly once (the polylines to draw).
GROUPS: dict[str, slice] = {
    "jaw": JAW,
    "right_brow": RIGHT_BROW,
    "left_brow": LEFT_BROW,
    "nose_bridge": NOSE_BRIDGE,
    "nose_lower": NOSE_LOWER,
    "right_eye": RIGHT_EYE,
    "left_eye": LEFT_EYE,
    "outer_lips": OUTER_LIPS,
    "inner_lips": INNER_LIPS,
}

#: Groups drawn as closed polygons.
CLOSED_GROUPS: frozenset[str] = frozenset({"right_eye", "left_eye", "outer_lips", "inner_lips"})

#: Lower jaw contour points NextFace leaves out of its landmark loss (they slide on the face).
NEXTFACE_DROPPED: tuple[int, ...] = (4, 5, 6, 10, 11, 12)
