"""Exporters for evaluation: the ``prediction`` file the evaluate task reads, and submissions to
the NoW and REALY benchmarks.

NoW (Sanyal et al. 2019) scores a mesh of any topology by its scan-to-mesh distance after a
rigid alignment that starts from 7 landmark points the submission gives: per image, ``<stem>.obj``
(vertices and triangles; no vertex colours, which NoW's loader cannot read) and ``<stem>.npy``, a
(7, 3) float array of those points on the mesh, in the order right eye outer corner, right eye
inner corner, left eye inner corner, left eye outer corner (the subject's), nose bottom, right
and left mouth corner (iBUG-68 points 36, 39, 42, 45, 33, 48, 54). Coordinates are the mesh's,
in mm in the photo's OpenCV camera frame; NoW's alignment removes any frame and scale.

REALY (Chai et al. 2022) needs meshes that share one topology: per image ``<stem>.obj`` with the
model's vertex order and triangles unchanged, plus, once per method, the template mesh and its
85 keypoints as barycentric coordinates (a JSON list of ``[triangle, w0, w1]``, the weights of
the triangle's first two corners; triangles 0-based in the template's face order). REALY's
first 68 keypoints are the iBUG-68 landmarks; this exporter writes those 68 for the model's
landmark vertices (``realy_keypoints.txt``). The remaining 17 are REALY's own points: REALY's
authors compute them for a template sent to them.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from facerecon.errors import FaceReconError
from facerecon.evaluation.prediction import Prediction, save_prediction
from facerecon.evaluation.scoring import NOW_LANDMARKS
from facerecon.imaging import sample_map
from facerecon.interfaces import Exporter, FaceResult
from facerecon.io import atomic_write

__all__ = ["PredictionExporter", "NowExporter", "RealyExporter", "write_obj", "keypoint_barycentrics"]


def write_obj(path: Path, vertices: np.ndarray, faces: np.ndarray, comment: str) -> Path:
    """A plain OBJ (``v`` and ``f`` lines only, 1-based), written atomically."""
    with atomic_write(path) as handle:
        handle.write(f"# {comment}\n")
        np.savetxt(handle, np.asarray(vertices, np.float64), fmt="v %.6f %.6f %.6f")
        np.savetxt(handle, np.asarray(faces, np.int64) + 1, fmt="f %d %d %d")
    return path


def _landmark_vertices(result: FaceResult, exporter: str) -> np.ndarray:
    if result.landmark_vertices is None:
        raise FaceReconError(
            f"The {exporter} exporter needs the landmark vertices of the mesh, which this result does not carry "
            "(FaceResult.landmark_vertices); use a task that records them, such as fit.")
    return np.asarray(result.landmark_vertices, np.int64)


class PredictionExporter(Exporter):
    """Writes ``<filename>.npz`` (:class:`facerecon.evaluation.prediction.Prediction`): camera-frame
    mesh, landmark vertices, per-vertex diffuse albedo, landmarks, environment map and the render
    over the photo with its coverage."""

    def export(self, result: FaceResult, folder: Path) -> list[Path]:
        """Write the file; return its path."""
        height, width = result.image.shape[:2]
        renders = result.renders
        prediction = Prediction(
            vertices=np.asarray(result.vertices, np.float32),
            faces=np.asarray(result.faces, np.int32),
            image_size=(width, height),
            landmark_vertices=None if result.landmark_vertices is None else np.asarray(result.landmark_vertices, np.int64),
            vertex_albedo=sample_map(np.asarray(result.diffuse), np.asarray(result.uvs, np.float64)),
            landmarks_fitted=result.landmarks_fitted,
            landmarks_detected=result.landmarks_detected,
            envmap=result.envmap,
            render=renders.get("render"),
            mask=renders.get("mask"),
        )
        return [save_prediction(prediction, Path(folder) / f"{self.params.filename}.npz")]


class NowExporter(Exporter):
    """Writes ``<stem>.obj`` and ``<stem>.npy`` (its 7 NoW landmark points); module docstring."""

    writes_maps = False

    def export(self, result: FaceResult, folder: Path) -> list[Path]:
        """Write both files; return their paths."""
        landmarks = _landmark_vertices(result, "now")
        stem = self.params.filename or result.name
        folder = Path(folder)
        mesh = write_obj(folder / f"{stem}.obj", result.vertices, result.faces,
                         f"facerecon '{result.name}' for NoW: mm, OpenCV camera frame of the photo")
        points = np.asarray(result.vertices, np.float64)[landmarks[list(NOW_LANDMARKS)]]
        npy = folder / f"{stem}.npy"
        with atomic_write(npy, "wb") as handle:
            np.save(handle, points)
        return [mesh, npy]


def keypoint_barycentrics(faces: np.ndarray, vertices: np.ndarray) -> list[list[float]]:
    """REALY barycentric keypoints ``[triangle, w0, w1]`` that put each keypoint on a mesh vertex.

    Args:
        faces: (F, 3) triangles; vertices: (K,) vertex indices.
    """
    faces = np.asarray(faces, np.int64)
    out = []
    for vertex in np.asarray(vertices, np.int64):
        triangle, corner = np.argwhere(faces == vertex)[0]
        weights = [0.0, 0.0]
        if corner < 2:
            weights[corner] = 1.0
        out.append([int(triangle), *weights])
    return out


class RealyExporter(Exporter):
    """Writes ``<stem>.obj`` with the model's topology and, with ``template``, ``realy_template.obj``
    and ``realy_keypoints.txt``; module docstring."""

    writes_maps = False

    def export(self, result: FaceResult, folder: Path) -> list[Path]:
        """Write the files; return their paths."""
        folder = Path(folder)
        stem = self.params.filename or result.name
        written = [write_obj(folder / f"{stem}.obj", result.vertices, result.faces,
                             f"facerecon '{result.name}' for REALY: mm, OpenCV camera frame, model topology")]
        if self.params.template:
            landmarks = _landmark_vertices(result, "realy")
            used = np.unique(np.asarray(result.faces))
            if not np.isin(landmarks, used).all():
                raise FaceReconError("A landmark vertex of this mesh lies on no triangle; REALY keypoints need triangles.")
            written.append(write_obj(folder / "realy_template.obj", result.vertices, result.faces,
                                     "facerecon template for REALY: this result's mesh, same topology as every result"))
            keypoints = folder / "realy_keypoints.txt"
            with atomic_write(keypoints) as handle:
                json.dump(keypoint_barycentrics(result.faces, landmarks), handle)
            written.append(keypoints)
        return written
