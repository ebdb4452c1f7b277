"""MediaPipe's BlazeFace detectors (short- and full-range), searched over an image pyramid.

BlazeFace (Bazarevsky et al. 2019) is a single-shot detector: for each anchor of a fixed grid on
its square input it predicts a score, a box and six keypoints (the subject's right eye, left eye,
nose tip, mouth centre, right and left ear tragion). The input is small (192 px for the full-range
model), so a photo whose faces are small relative to it is searched in windows: the whole photo
letterboxed, then overlapping windows at doubling resolutions until the smallest face asked for
fills enough of a window. Detections of all windows (and of turned copies of the photo, when
asked) are merged by MediaPipe's weighted non-maximum suppression.
"""
from __future__ import annotations

import math
from dataclasses import astuple, dataclass, replace

import numpy as np

from facerecon.imaging import to_rgb8
from facerecon.interfaces import BuildContext, FaceBox, FaceDetector

from . import BlazeFaceParams
from .face_mesh import FaceMeshModel
from .tflite import TFLiteModel, mediapipe_model_path

__all__ = ["BlazeFaceSpec", "SPECS", "anchor_centres", "decode", "weighted_nms", "BlazeFaceDetector"]


@dataclass(frozen=True)
class BlazeFaceSpec:
    """One BlazeFace model: its file, anchor layout and the smallest face it finds.

    Attributes:
        file: path inside mediapipe's ``modules`` folder.
        grids: (cells per side, anchors per cell) of each feature map, in output order.
        min_face: smallest face side, in input pixels, the model finds reliably.
    """

    file: str
    grids: tuple[tuple[int, int], ...]
    min_face: float


#: The two models (anchor layouts from MediaPipe's SSD anchor options for each).
SPECS = {
    "full": BlazeFaceSpec("face_detection/face_detection_full_range_sparse.tflite", ((48, 1),), 20.0),
    "short": BlazeFaceSpec("face_detection/face_detection_short_range.tflite", ((16, 2), (8, 6)), 24.0),
}

#: Face-mesh passes that check a detection (the second corrects the crop of the first).
_CHECK_PASSES = 2
#: Largest median distance, relative to the box, between BlazeFace's eye, nose and mouth keypoints
#: and the mesh's for the mesh to confirm a face (measured: true faces up to 0.21, turned and
#: tilted profiles included, where BlazeFace misplaces the hidden eye; false faces 0.3 and more).
_MAX_KEYPOINT_GAP = 0.25

#: Keypoint order of BlazeFace's output.
KEYPOINTS = ("right_eye", "left_eye", "nose_tip", "mouth", "right_ear", "left_ear")


def anchor_centres(grids: tuple[tuple[int, int], ...]) -> np.ndarray:
    """(N, 2) anchor centres in [0, 1] (x, y), row by row, ``per_cell`` copies per cell."""
    centres = []
    for cells, per_cell in grids:
        ys, xs = np.mgrid[0:cells, 0:cells]
        grid = (np.stack([xs, ys], -1).reshape(-1, 2) + 0.5) / cells
        centres.append(np.repeat(grid, per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


def decode(raw: np.ndarray, logits: np.ndarray, anchors: np.ndarray, size: int, min_score: float):
    """Model outputs -> the detections scoring at least ``min_score``.

    Args:
        raw: (N, 16) box centre offset, size and 6 keypoint offsets, in input pixels.
        logits: (N,) or (N, 1) score logits.
        anchors: (N, 2) anchor centres in [0, 1].
        size: input side in pixels.
    Returns:
        boxes (M, 4) x0, y0, x1, y1; keypoints (M, 6, 2); scores (M,): coordinates in [0, 1] of the input.
    """
    scores = 1.0 / (1.0 + np.exp(-np.clip(np.reshape(logits, -1).astype(np.float64), -100.0, 100.0)))
    keep = scores >= min_score
    raw, centres = raw[keep] / size, anchors[keep]
    middle = raw[:, :2] + centres
    half = raw[:, 2:4] / 2
    boxes = np.concatenate([middle - half, middle + half], axis=1)
    keypoints = raw[:, 4:16].reshape(-1, 6, 2) + centres[:, None, :]
    return boxes, keypoints, scores[keep]


def _area(boxes: np.ndarray) -> np.ndarray:
    return np.prod(np.clip(boxes[..., 2:] - boxes[..., :2], 0, None), axis=-1)


def _intersection(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    lo = np.maximum(box[:2], boxes[:, :2])
    hi = np.minimum(box[2:], boxes[:, 2:])
    return np.prod(np.clip(hi - lo, 0, None), axis=1)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(N,) intersection over union of a (4,) box with (N, 4) boxes."""
    inter = _intersection(box, boxes)
    return inter / np.maximum(_area(box) + _area(boxes) - inter, 1e-12)


def _covered(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(N,) intersection over the smaller area of a (4,) box with (N, 4) boxes."""
    return _intersection(box, boxes) / np.maximum(np.minimum(_area(box), _area(boxes)), 1e-12)


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, threshold: float):
    """MediaPipe's weighted non-maximum suppression.

    The best detection absorbs every other one overlapping it by more than ``threshold`` (IoU):
    its box and keypoints become the score-weighted mean of those that see the face the same way
    up (eye line within 45°; a search of a turned copy may see it otherwise), its score the best.

    Returns:
        boxes (K, 4), keypoints (K, 6, 2), scores (K,), best first.
    """
    order = np.argsort(-scores)
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    eye_line = keypoints[:, 1] - keypoints[:, 0]
    rolls = np.arctan2(eye_line[:, 1], eye_line[:, 0])
    out_boxes, out_points, out_scores = [], [], []
    remaining = np.ones(len(scores), bool)
    for i in range(len(scores)):
        if not remaining[i]:
            continue
        group = remaining & (_iou(boxes[i], boxes) > threshold)
        group[i] = True
        alike = group & (np.cos(rolls - rolls[i]) > math.cos(math.pi / 4))
        weights = scores[alike] / scores[alike].sum()
        out_boxes.append(weights @ boxes[alike])
        out_points.append(np.tensordot(weights, keypoints[alike], axes=1))
        out_scores.append(scores[i])
        remaining &= ~group
    if not out_scores:
        return np.zeros((0, 4), np.float32), np.zeros((0, 6, 2), np.float32), np.zeros(0, np.float32)
    return np.array(out_boxes), np.array(out_points), np.array(out_scores)


def _turned(image: np.ndarray, quarter_turns: int) -> tuple[np.ndarray, np.ndarray]:
    """The image turned counter-clockwise by ``quarter_turns`` × 90°, and the (2, 3) affine map
    from the turned image's pixel coordinates back to the original's."""
    h, w = image.shape[:2]
    k = quarter_turns % 4
    back = {
        0: [[1, 0, 0], [0, 1, 0]],
        1: [[0, -1, w], [1, 0, 0]],
        2: [[-1, 0, w], [0, -1, h]],
        3: [[0, 1, 0], [-1, 0, h]],
    }[k]
    return np.ascontiguousarray(np.rot90(image, k)), np.array(back, np.float64)


class BlazeFaceDetector(FaceDetector):
    """MediaPipe's BlazeFace, full- or short-range, over an image pyramid.

    Finds frontal, tilted (up to about ±60°), three-quarter and profile faces from ``min_face``
    pixels up (with ``rotations``, also sideways and upside-down ones). Boxes span brows to chin
    and cheek to cheek; each carries the face's roll, measured by the face mesh that checks it
    (from BlazeFace's eye keypoints when the check is off).
    """

    def __init__(self, params: BlazeFaceParams, context: BuildContext) -> None:
        super().__init__(params, context)
        self.spec = SPECS[params.model]
        self.model = TFLiteModel(mediapipe_model_path(self.spec.file))
        self.size = self.model.input_size[0]
        self._anchors = anchor_centres(self.spec.grids)
        self.mesh = FaceMeshModel() if params.min_presence > 0 else None

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """(H, W, 3) uint8 RGB -> face boxes in pixels, best first (may be empty)."""
        rgb = to_rgb8(image)
        found = [self._search(*_turned(rgb, turns)) for turns in self._quarter_turns()]
        boxes = np.concatenate([f[0] for f in found])
        keypoints = np.concatenate([f[1] for f in found])
        scores = np.concatenate([f[2] for f in found])
        boxes, keypoints, scores = weighted_nms(boxes, keypoints, scores, self.params.overlap)
        faces = [_face_box(b, k, s) for b, k, s in zip(boxes, keypoints, scores)]
        return self._checked(rgb, faces, keypoints) if self.mesh is not None else faces

    def _checked(self, image: np.ndarray, faces: list[FaceBox], keypoints: np.ndarray) -> list[FaceBox]:
        """The faces (best first) the face mesh confirms, with the mesh's roll, and those scoring
        ``sure_score`` or more; of two mostly overlapping (one face found twice, e.g. the right
        and the wrong way up), the better.

        The mesh confirms a face when it sees one in every pass (``min_presence``) and its eyes,
        nose tip and mouth lie where BlazeFace's keypoints put them (most within a quarter of the box).
        """
        kept: list[FaceBox] = []
        for face, points in zip(faces, keypoints):
            fit = self.mesh.fit(image, face, passes=_CHECK_PASSES)
            size = max(face.x1 - face.x0, face.y1 - face.y0)
            gap = np.median(np.linalg.norm(_mesh_keypoints(fit.points) - points[:4], axis=1)) / size
            confirmed = fit.presence >= self.params.min_presence and gap <= _MAX_KEYPOINT_GAP
            if not confirmed and face.score < self.params.sure_score:
                continue
            if kept and _covered(np.array(astuple(face)[:4]), np.array([astuple(k)[:4] for k in kept])).max() > 0.5:
                continue
            kept.append(replace(face, roll=fit.roll) if confirmed else face)
        return kept

    def _quarter_turns(self) -> list[int]:
        return [0] + sorted({(a // 90) % 4 for a in self.params.rotations})

    def _scales(self, height: int, width: int) -> list[float]:
        """Pyramid scales: the whole photo in one window, then finer by equal steps of at most 2×,
        up to the scale at which ``min_face`` photo pixels fill ``spec.min_face`` input pixels."""
        coarsest, finest = self.size / max(height, width), self.spec.min_face / self.params.min_face
        if finest <= coarsest:
            return [coarsest]
        steps = math.ceil(math.log2(finest / coarsest) - 1e-9)
        return [coarsest * (finest / coarsest) ** (i / steps) for i in range(steps + 1)]

    def _search(self, image: np.ndarray, back: np.ndarray):
        """Detections of one (turned) image, in the original image's pixels: boxes (N, 4), keypoints (N, 6, 2), scores (N,)."""
        import cv2

        h, w = image.shape[:2]
        found_boxes, found_points, found_scores = [], [], []
        for level, scale in enumerate(self._scales(h, w)):
            sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
            interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
            scaled = cv2.resize(image, (sw, sh), interpolation=interpolation) if (sw, sh) != (w, h) else image
            sx, sy = sw / w, sh / h
            for x0, y0 in self._windows(sw, sh):
                boxes, points, scores = self._run(scaled, x0, y0)
                if level > 0:  # a face cut by a window side inside the photo is whole in a neighbour
                    keep = _inside(boxes, x0, y0, self.size, sw, sh)
                    boxes, points, scores = boxes[keep], points[keep], scores[keep]
                to_image = np.array([[self.size / sx, 0, x0 / sx], [0, self.size / sy, y0 / sy]])
                found_boxes.append(_apply(to_image, boxes.reshape(-1, 2, 2)))
                found_points.append(_apply(to_image, points))
                found_scores.append(scores)
        corners = _apply(back, np.concatenate(found_boxes))  # (N, 2, 2): turned corners
        boxes = np.concatenate([corners.min(1), corners.max(1)], axis=1)
        return boxes, _apply(back, np.concatenate(found_points)), np.concatenate(found_scores)

    def _windows(self, width: int, height: int) -> list[tuple[int, int]]:
        """Top-left corners of windows of the input size covering a (width, height) image.

        Neighbours overlap by twice the smallest face the model finds: a face that large is
        whole in some window; a larger one is found at the coarser level, where it is half as large.
        """
        size = self.size
        step = size - 2 * int(math.ceil(self.spec.min_face)) - 8

        def starts(extent: int) -> list[int]:
            if extent <= size:
                return [(extent - size) // 2]  # centred, padded on both sides
            count = math.ceil((extent - size) / step) + 1
            return [round(i * (extent - size) / (count - 1)) for i in range(count)]

        return [(x, y) for y in starts(height) for x in starts(width)]

    def _run(self, scaled: np.ndarray, x0: int, y0: int):
        """Detections in the window at (x0, y0) of ``scaled``, in [0, 1] window coordinates."""
        size = self.size
        window = np.zeros((size, size, 3), np.float32)
        h, w = scaled.shape[:2]
        ys, xs = slice(max(y0, 0), min(y0 + size, h)), slice(max(x0, 0), min(x0 + size, w))
        window[ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0] = scaled[ys, xs] / 127.5 - 1.0
        raw, logits = self.model(window)
        return decode(raw, logits, self._anchors, size, self.params.min_score)


def _inside(boxes: np.ndarray, x0: int, y0: int, size: int, width: int, height: int, margin: float = 0.02) -> np.ndarray:
    """(N,) whether each [0, 1]-window box stays clear of the window sides that lie inside the image."""
    ok = np.ones(len(boxes), bool)
    if x0 > 0:
        ok &= boxes[:, 0] > margin
    if y0 > 0:
        ok &= boxes[:, 1] > margin
    if x0 + size < width:
        ok &= boxes[:, 2] < 1 - margin
    if y0 + size < height:
        ok &= boxes[:, 3] < 1 - margin
    return ok


def _apply(affine: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(..., 2) points mapped by a (2, 3) affine."""
    return points @ affine[:, :2].T + affine[:, 2]


def _mesh_keypoints(mesh: np.ndarray) -> np.ndarray:
    """(4, 2) BlazeFace's first four keypoints (right eye, left eye, nose tip, mouth) read off a mesh."""
    xy = mesh[:, :2]
    return np.array([xy[[33, 133]].mean(0), xy[[263, 362]].mean(0), xy[1], xy[[13, 14]].mean(0)])


def _face_box(box: np.ndarray, keypoints: np.ndarray, score: float) -> FaceBox:
    right_eye, left_eye = keypoints[0], keypoints[1]
    roll = math.atan2(left_eye[1] - right_eye[1], left_eye[0] - right_eye[0])
    return FaceBox(*(float(v) for v in box), score=float(score), roll=roll)
