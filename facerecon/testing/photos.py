"""Photos of faces built from pictures that packages ship, with their true faces.

Three portraits come with facerecon's dependencies: scikit-image's astronaut (frontal, smiling),
matplotlib's Grace Hopper (frontal, glasses) and scikit-image's cameraman (turned away, about
70° of yaw, grey). :func:`compose` pastes faces of them, scaled, turned in the image plane and
mirrored, onto a background, and says where each face went, so detectors and landmark
detectors can be checked on faces that are small, tilted and in groups:
:func:`group_photo` is seven such faces in one 1280 × 720 photo.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..interfaces import FaceBox
from ..landmarks import IBUG68_MIRROR

__all__ = ["PORTRAITS", "portrait", "Placement", "PlacedFace", "GroupPhoto", "compose", "group_photo", "GROUP"]

#: The face box of each portrait, in its own pixels (brows to chin, cheek to cheek).
PORTRAITS: dict[str, FaceBox] = {
    "astronaut": FaceBox(175.0, 70.0, 270.0, 168.0),
    "grace_hopper": FaceBox(172.0, 135.0, 366.0, 328.0),
    "cameraman": FaceBox(196.0, 122.0, 274.0, 199.0),
}


def portrait(name: str) -> np.ndarray:
    """One of :data:`PORTRAITS` as (H, W, 3) uint8 RGB."""
    if name == "astronaut":
        from skimage import data

        return data.astronaut()
    if name == "cameraman":
        from skimage import data

        return np.repeat(data.camera()[:, :, None], 3, axis=2)
    if name == "grace_hopper":
        import matplotlib.cbook
        from PIL import Image

        with Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")) as image:
            return np.asarray(image.convert("RGB"))
    raise KeyError(f"no portrait {name!r}; choose one of {sorted(PORTRAITS)}")


@dataclass(frozen=True)
class Placement:
    """Where to paste a portrait's face.

    Attributes:
        source: a key of :data:`PORTRAITS`.
        centre: (x, y) of the face's centre in the new photo, pixels.
        size: the face box's larger side in the new photo, pixels.
        degrees: in-plane turn, counter-clockwise on screen.
        mirror: mirror the face left to right (before turning it).
    """

    source: str
    centre: tuple[float, float]
    size: float
    degrees: float = 0.0
    mirror: bool = False


@dataclass
class PlacedFace:
    """A face pasted into a photo.

    Attributes:
        placement: how it was placed.
        to_photo: (2, 3) affine from the portrait's pixel coordinates to the photo's.
        box: the portrait's face box, scaled, around the face's centre in the photo, with the
            face's roll (see :attr:`FaceBox.roll`; the portraits' faces are upright): the box
            a detector reports, which is face-sized whatever the roll.
    """

    placement: Placement
    to_photo: np.ndarray
    box: FaceBox

    def landmarks(self, portrait_points: np.ndarray) -> np.ndarray:
        """(68, 2) iBUG landmarks found on the portrait -> where they are in the photo (with a
        mirrored face, each becomes its mirror partner)."""
        points = np.asarray(portrait_points, np.float64) @ self.to_photo[:, :2].T + self.to_photo[:, 2]
        return points[list(IBUG68_MIRROR)] if self.placement.mirror else points


@dataclass
class GroupPhoto:
    """A composed photo: (H, W, 3) uint8 RGB ``image`` and its ``faces``."""

    image: np.ndarray
    faces: list[PlacedFace]


def _affine(placement: Placement) -> np.ndarray:
    box = PORTRAITS[placement.source]
    cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
    scale = placement.size / max(box.x1 - box.x0, box.y1 - box.y0)
    angle = math.radians(placement.degrees)
    # Counter-clockwise on screen with y down: x' = cos·x + sin·y, y' = −sin·x + cos·y.
    turn = scale * np.array([[math.cos(angle), math.sin(angle)], [-math.sin(angle), math.cos(angle)]])
    flip = np.diag([-1.0, 1.0]) if placement.mirror else np.eye(2)
    linear = turn @ flip
    offset = np.asarray(placement.centre) - linear @ np.array([cx, cy])
    return np.concatenate([linear, offset[:, None]], axis=1)


def compose(placements: list[Placement], size: tuple[int, int] = (1280, 720),
            background: np.ndarray | None = None) -> GroupPhoto:
    """Paste faces onto a background of ``size`` (width, height).

    Each face comes with its surroundings (hair, shoulders) inside a disc 1.3 face sizes across,
    blended in over a soft edge. The default background is scikit-image's coffee photo, stretched.
    """
    import cv2

    width, height = size
    if background is None:
        from skimage import data

        background = data.coffee()
    canvas = cv2.resize(background, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32)
    ys, xs = np.mgrid[0:height, 0:width] + 0.5
    faces = []
    for placement in placements:
        source = portrait(placement.source)
        affine = _affine(placement)
        shrink = min(1.0, float(np.hypot(*affine[:, 0])))  # shrink by area averaging first: no aliasing
        small = cv2.resize(source, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA) if shrink < 1 else source
        sx, sy = small.shape[1] / source.shape[1], small.shape[0] / source.shape[0]
        indices = cv2.invertAffineTransform(affine) * np.array([[sx], [sy]])  # photo -> small portrait
        indices[:, 2] += indices[:, :2] @ np.array([0.5, 0.5]) - 0.5  # cv2 maps indices: coordinate - 0.5
        warped = cv2.warpAffine(small, indices, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        radius = 1.3 * placement.size
        distance = np.hypot(xs - placement.centre[0], ys - placement.centre[1])
        alpha = np.clip((radius - distance) / (0.25 * radius), 0.0, 1.0)[:, :, None]
        canvas = alpha * warped + (1 - alpha) * canvas
        box, scale = PORTRAITS[placement.source], float(np.hypot(*affine[:, 0]))
        half = scale * np.array([box.x1 - box.x0, box.y1 - box.y0]) / 2
        lo, hi = np.asarray(placement.centre) - half, np.asarray(placement.centre) + half
        roll = -math.radians(placement.degrees)
        faces.append(PlacedFace(placement, affine, FaceBox(*lo, *hi, roll=math.atan2(math.sin(roll), math.cos(roll)))))
    return GroupPhoto(np.clip(canvas + 0.5, 0, 255).astype(np.uint8), faces)


#: The faces of :func:`group_photo`: 60-110 px, upright and turned by up to 30°, mirrored, and
#: the cameraman's turned head.
GROUP: tuple[Placement, ...] = (
    Placement("astronaut", (190, 190), 110),
    Placement("astronaut", (470, 170), 80, degrees=30),
    Placement("astronaut", (760, 190), 80, degrees=-30, mirror=True),
    Placement("grace_hopper", (1070, 210), 90, degrees=15),
    Placement("cameraman", (300, 520), 90),
    Placement("astronaut", (640, 530), 64, mirror=True),
    Placement("grace_hopper", (980, 530), 80, degrees=-25, mirror=True),
)


def group_photo() -> GroupPhoto:
    """Seven faces (:data:`GROUP`) in one 1280 × 720 photo."""
    return compose(list(GROUP))
