"""The iBUG-68 landmark layout (dlib's 68-point order), the single table every component shares.

Indices are 0-based, as in dlib and in the (B, 68, 2) landmark tensors passed between stages.
"Right" and "left" are the subject's, so the subject's right eye (36-41) appears on the left
side of a frontal photo. Pure Python: importing it pulls in no array library.
"""
from __future__ import annotations

__all__ = [
    "N_LANDMARKS",
    "IBUG68_GROUPS",
    "NEXTFACE_DROPPED_JAW",
    "OUTER_EYE_CORNERS",
    "RIGHT_EYE",
    "LEFT_EYE",
    "IBUG68_MIRROR",
]

#: Number of points in the layout.
N_LANDMARKS = 68

#: Point indices of each facial part.
IBUG68_GROUPS: dict[str, tuple[int, ...]] = {
    "jaw": tuple(range(0, 17)),
    "brows": tuple(range(17, 27)),
    "nose": tuple(range(27, 36)),
    "eyes": tuple(range(36, 48)),
    "mouth": tuple(range(48, 60)),
    "inner_mouth": tuple(range(60, 68)),
}

#: Lower jaw contour points NextFace leaves out of its landmark loss: contour landmarks slide
#: along the silhouette as the head turns, so they have no fixed vertex on the mesh.
NEXTFACE_DROPPED_JAW: tuple[int, ...] = (4, 5, 6, 10, 11, 12)

#: Outer corners of the two eyes; their distance is the usual inter-ocular normaliser (300-W).
OUTER_EYE_CORNERS: tuple[int, int] = (36, 45)


#: The subject's right eye (left in a frontal photo) and left eye.
RIGHT_EYE: tuple[int, ...] = tuple(range(36, 42))
LEFT_EYE: tuple[int, ...] = tuple(range(42, 48))


def _mirror_pairs() -> tuple[int, ...]:
    pairs = [(k, 16 - k) for k in range(8)] + [(17 + k, 26 - k) for k in range(5)]
    pairs += [(31, 35), (32, 34), (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]
    pairs += [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58), (60, 64), (61, 63), (65, 67)]
    partner = list(range(N_LANDMARKS))
    for a, b in pairs:
        partner[a], partner[b] = b, a
    return tuple(partner)


#: The landmark each landmark becomes in a mirror image of the face (right and left swap;
#: points on the midline, such as the chin 8 and the nose tip 30, stay).
IBUG68_MIRROR: tuple[int, ...] = _mirror_pairs()
