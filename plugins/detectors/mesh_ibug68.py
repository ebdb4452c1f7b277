"""Which of MediaPipe's 468 face-mesh points stands for each of the 68 iBUG landmarks.

The table was derived for facerecon by matching the mesh to dlib's 68-point predictor on
frontal photos (scikit-image's astronaut and matplotlib's Grace Hopper, each also mirrored
and at 70 % size): for each iBUG point, the mesh point nearest to it on average, relative to
the outer-eye-corner distance. Where several mesh points lie equally near, anatomy decided:
symmetric iBUG pairs take mirror-image mesh points; the outer lip points (48-59) lie on the
mesh's outer lip contour and the inner ones (60-67) on its inner contour (the two coincide on
the closed mouths matched, not on open ones); the eye corners (36, 39, 42, 45) are the mesh's
eye-corner points.

Jaw contour (0-16): dlib's contour follows the face's silhouette, so it slides over the face
as the head turns. These are fixed points of the face instead (the mesh points under dlib's
contour on a frontal face: on the cheek near the ear for 0-3 and 13-16, on the jaw line
below), the same meaning as the fixed landmark vertices of a morphable model. On a turned
head the far side's points are then hidden behind the cheek: the face-mesh detector still
places them (where the mesh puts the hidden point) and gives them a low confidence.
"""
from __future__ import annotations

__all__ = ["IBUG68_FROM_MESH", "IBUG68_MESH_RINGS", "MESH_EYE_CORNERS"]

#: Mesh point index of each iBUG-68 landmark, in iBUG order.
IBUG68_FROM_MESH: tuple[int, ...] = (
    # jaw 0-16: subject's right (image left) ear level, round the chin (8), to the left ear level
    34, 123, 147, 192, 172, 150, 149, 148, 152, 377, 378, 379, 397, 416, 376, 352, 264,
    # right brow 17-21 (outer to inner), left brow 22-26 (inner to outer)
    124, 53, 52, 65, 55, 285, 295, 282, 283, 353,
    # nose bridge 27-30 (top to tip), nostril base 31-35 (right to left)
    168, 197, 5, 4, 75, 97, 2, 326, 305,
    # right eye 36-41 (outer corner, upper lid, inner corner, lower lid), left eye 42-47 (inner corner first)
    33, 159, 158, 133, 153, 144, 362, 385, 386, 263, 373, 380,
    # outer lip 48-59 (right corner, upper lip to the left corner, lower lip back)
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181,
    # inner lip 60-67 (right corner, upper, left corner, lower)
    78, 82, 13, 312, 308, 317, 14, 87,
)

#: The mesh points around each landmark's mesh point, in iBUG order: its neighbours in a Delaunay
#: triangulation of a frontal face's mesh (the astronaut's). The plane through them gives the
#: surface normal that decides whether the landmark faces the camera.
IBUG68_MESH_RINGS: tuple[tuple[int, ...], ...] = (
    (116, 127, 143, 227, 234), (50, 93, 116, 117, 137, 147, 227, 234), (50, 93, 123, 132, 177, 187), (58, 138, 207, 213, 214, 215),
    (58, 135, 136, 138, 214, 215), (136, 149, 169, 170, 211), (32, 140, 150, 170, 176), (152, 171, 175, 176),
    (148, 175, 377), (152, 175, 396, 400), (262, 369, 379, 395, 400), (365, 378, 394, 395, 431),
    (288, 364, 365, 367, 434), (288, 367, 427, 433, 434, 435), (280, 323, 352, 361, 401, 411), (280, 323, 345, 346, 366, 376, 447),
    (345, 356, 368, 372, 447, 454), (35, 46, 113, 156, 225, 226), (46, 52, 63, 105, 224, 225), (53, 65, 66, 105, 223, 224),
    (52, 66, 107, 222, 223), (8, 9, 107, 189, 193, 221, 222), (8, 9, 336, 413, 417, 441, 442), (282, 296, 336, 442, 443),
    (283, 295, 296, 334, 443, 444), (276, 282, 293, 334, 444, 445), (265, 276, 342, 383, 445, 446), (6, 8, 193, 417),
    (6, 122, 195, 196, 351, 419), (3, 4, 51, 195, 248, 281), (1, 5, 44, 45, 51, 274, 275, 281), (59, 60, 79, 167, 218, 240),
    (20, 99, 167, 238, 241, 242), (94, 141, 164, 370), (250, 328, 393, 458, 462), (289, 290, 309, 392, 393, 438, 460),
    (7, 25, 130, 246, 247), (27, 28, 144, 145, 158, 160), (28, 56, 145, 153, 157, 159), (112, 155, 173, 190, 243),
    (22, 23, 145, 154, 157, 158), (24, 145, 159, 160, 163), (341, 382, 398, 414, 463), (258, 286, 374, 380, 384, 386),
    (257, 258, 373, 374, 385, 387), (249, 255, 359, 466, 467), (254, 374, 386, 387, 390), (252, 253, 374, 381, 384, 385),
    (43, 57, 76, 146, 185, 186), (40, 73, 74, 80, 81, 165, 167), (0, 72, 81, 82, 164, 167), (11, 37, 82, 164, 267, 312),
    (0, 164, 302, 311, 312, 393), (303, 304, 310, 311, 391, 393, 460), (273, 287, 306, 409, 410), (314, 315, 321, 335, 404, 406),
    (16, 17, 313, 315, 405, 406), (16, 18, 83, 84, 313, 314), (16, 17, 83, 85, 181, 182), (84, 85, 91, 106, 180, 182),
    (62, 77, 96, 146, 183, 184), (0, 11, 12, 37, 38, 72, 87), (11, 12, 312), (0, 11, 12, 13, 267, 268, 302, 317),
    (292, 307, 325, 375, 407, 408), (12, 14, 15, 268, 312, 316, 402), (12, 15, 87, 317), (12, 14, 15, 38, 82, 86, 178),
)

#: Outer corners of the subject's right and left eye: the roll of a mesh is the angle of the line between them.
MESH_EYE_CORNERS: tuple[int, int] = (33, 263)
