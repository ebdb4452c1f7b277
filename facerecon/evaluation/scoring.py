"""Scoring one reconstruction against its ground truth, or against its photo alone.

Metrics of :func:`score_prediction` (lengths in mm, angles in degrees; NaN when a part of the
prediction is missing):

============================  ===================================================================
``v2v_median/mean/std``       vertex-to-vertex distance on the face region after the best rigid
                              (or similarity) fit of those vertices; only for the truth's topology
``p2s_median/mean/std``       point-to-surface distance from the truth's face-region vertices to
                              the predicted surface after a 7-landmark alignment refined by ICP
                              (NoW's scan-to-mesh error); any topology
``normal_deg``                mean angle between the truth's and the aligned prediction's normals
``landmark_nme``              mean distance of the fitted landmarks to the truth's projected
                              landmarks, over the truth's outer-eye-corner distance (300-W's NME)
``detector_nme``              the same for the landmarks the fit was given (the detector's error)
``fit_nme``                   fitted against given landmarks, over the given outer-eye distance
``albedo_rmse``               RMS difference of the linear diffuse albedo on the face region after
                              the best scale per channel (albedo and light trade off in a photo)
``light_rmse``                RMS difference of the (unshadowed) irradiance on camera-facing
                              surfaces after the best scale per channel, over the RMS of the truth's;
                              the prediction's irradiance integrates its environment map
``light_deg``                 angle between the normal its light makes brightest and the sun (NaN
                              for a light without a brightest side, e.g. ambient only)
``psnr_db``                   PSNR of the sRGB render against the photo on the face region pixels
                              the render covers
``coverage``                  fraction of the face region pixels the render covers
============================  ===================================================================

The face region is every truth vertex within ``crop_radius`` of the nose tip (the truth's
landmark 30), as NoW crops its scans around the face centre. :func:`score_photo` gives
``fit_nme`` and ``psnr_db`` (over the rendered pixels inside the given landmarks' outline) for
photos without truth, so recipes can be ranked on one's own photos.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from ..envmap import latlong_directions
from ..imaging import linear_to_srgb, sample_map
from ..landmarks import IBUG68_GROUPS
from .metrics import (Similarity, angles_deg, closest_points, distance_stats, icp, landmark_distances, psnr,
                      scaled_rmse, similarity_fit, vertex_normals)
from .prediction import Prediction
from .truth import FaceTruth

__all__ = ["NOW_LANDMARKS", "NOSE_TIP", "ScoreSettings", "GeometryScore", "FaceScore", "face_region",
           "camera_facing_normals", "light_rmse",
           "region_around_nose", "vertex_distances", "score_geometry", "score_prediction", "score_baseline",
           "score_photo", "envmap_irradiance", "METRICS"]

#: iBUG-68 indices of NoW's seven alignment landmarks: outer and inner eye corners (subject's
#: right eye first), the nose bottom and the two mouth corners.
NOW_LANDMARKS = (36, 39, 42, 45, 33, 48, 54)
#: iBUG-68 index of the nose tip.
NOSE_TIP = 30
#: Every metric name, in table order.
METRICS = ("v2v_median", "v2v_mean", "v2v_std", "p2s_median", "p2s_mean", "p2s_std", "normal_deg",
           "landmark_nme", "detector_nme", "fit_nme", "albedo_rmse", "light_rmse", "light_deg", "psnr_db", "coverage")
#: Pixels covered at least this much count as rendered (edges are blended with the background).
_COVERED = 0.99
_REC709 = np.array([0.2126, 0.7152, 0.0722])
#: A light whose brightest and darkest camera-facing irradiance differ less than this has no direction.
_DIRECTIONAL = 1.05


@dataclass(frozen=True)
class ScoreSettings:
    """How geometry is compared.

    Attributes:
        crop_radius: truth vertices within this distance (mm) of the nose tip are measured.
        scale: also fit a scale when aligning (rigid otherwise).
        icp_iterations: most ICP iterations of the point-to-surface alignment.
    """

    crop_radius: float = 95.0
    scale: bool = False
    icp_iterations: int = 30


@dataclass
class GeometryScore:
    """Geometry metrics and the per-point distances behind them.

    Attributes:
        metrics: ``v2v_*``, ``p2s_*``, ``normal_deg``.
        vertex_errors: (V_truth,) vertex-to-vertex distance of each truth vertex (NaN outside the
            face region), or None when the topologies differ.
        surface_errors: (N,) point-to-surface distance of each face-region truth vertex.
        transform: the alignment of the predicted vertices onto the truth (point-to-surface).
    """

    metrics: dict[str, float]
    vertex_errors: np.ndarray | None
    surface_errors: np.ndarray
    transform: Similarity


@dataclass
class FaceScore:
    """Every metric of one face (:data:`METRICS`) and its geometry details."""

    metrics: dict[str, float]
    geometry: GeometryScore


def face_region(truth: FaceTruth, radius: float) -> np.ndarray:
    """(V,) bool: truth vertices of the surface (in a triangle) within ``radius`` mm of the nose tip."""
    return region_around_nose(truth.vertices, truth.faces, truth.landmark_vertices, radius)


def region_around_nose(vertices: np.ndarray, faces: np.ndarray, landmark_vertices: np.ndarray,
                       radius: float) -> np.ndarray:
    """(V,) bool: vertices of the surface (in a triangle) within ``radius`` mm of the nose tip (the
    vertex of iBUG-68 landmark 30), for (V, 3) ``vertices`` in any frame (mm)."""
    vertices = np.asarray(vertices)
    tip = vertices[np.asarray(landmark_vertices)[NOSE_TIP]]
    on_surface = np.zeros(len(vertices), bool)
    on_surface[np.asarray(faces).ravel()] = True
    return on_surface & (np.linalg.norm(vertices - tip, axis=1) <= radius)


def vertex_distances(vertices: np.ndarray, target: np.ndarray, scale: bool = False) -> tuple[np.ndarray, Similarity]:
    """Vertex-to-vertex distances (N,) in mm between corresponding (N, 3) points after the best rigid
    (with ``scale``: similarity) fit of ``vertices`` onto ``target``, and that fit."""
    fit = similarity_fit(vertices, target, scale=scale)
    return np.linalg.norm(fit(vertices) - np.asarray(target, np.float64), axis=1), fit


def _stats(prefix: str, distances: np.ndarray) -> dict[str, float]:
    return {f"{prefix}_{k}": v for k, v in distance_stats(distances).items()}


def score_geometry(vertices: np.ndarray, faces: np.ndarray, landmark_vertices: np.ndarray | None,
                   truth: FaceTruth, settings: ScoreSettings = ScoreSettings()) -> GeometryScore:
    """Distances between a predicted mesh (any frame, any topology) and the truth's face region.

    Args:
        vertices: (V, 3) predicted vertices in mm, in any frame (alignment removes it).
        faces: (F, 3) predicted triangles.
        landmark_vertices: (68,) predicted landmark vertices for the initial alignment of the
            point-to-surface ICP, or None to start from the given frame (then it must be the
            truth's camera frame, as predictions are).
    """
    vertices, truth_vertices = np.asarray(vertices, np.float64), np.asarray(truth.vertices, np.float64)
    faces = np.asarray(faces, np.int64)
    region = face_region(truth, settings.crop_radius)
    target = truth_vertices[region]
    truth_normals = vertex_normals(truth_vertices, truth.faces)[region]
    metrics: dict[str, float] = {}
    same_topology = vertices.shape == truth_vertices.shape and np.array_equal(faces, truth.faces)

    vertex_errors = None
    if same_topology:
        distances, fit = vertex_distances(vertices[region], target, settings.scale)
        vertex_errors = np.full(len(vertices), np.nan)
        vertex_errors[region] = distances
        metrics.update(_stats("v2v", distances))
        normals = fit.rotate(vertex_normals(vertices, faces)[region])
        metrics["normal_deg"] = float(angles_deg(normals, truth_normals).mean())
    else:
        metrics.update(_stats("v2v", np.empty(0)))

    if landmark_vertices is not None:
        now = list(NOW_LANDMARKS)
        initial = similarity_fit(vertices[np.asarray(landmark_vertices)[now]],
                                 truth_vertices[truth.landmark_vertices[now]], scale=settings.scale)
    else:
        initial = Similarity.identity()
    transform = icp(target, vertices, faces, initial, scale=settings.scale, iterations=settings.icp_iterations)
    found = closest_points(target, transform(vertices), faces)
    metrics.update(_stats("p2s", found.distances))
    if not same_topology:
        corner_normals = vertex_normals(vertices, faces)[faces[found.triangles]]
        normals = transform.rotate((corner_normals * found.barycentric[..., None]).sum(1))
        metrics["normal_deg"] = float(angles_deg(normals, truth_normals).mean())
    return GeometryScore(metrics, vertex_errors, found.distances, transform)


def camera_facing_normals(count: int = 2000) -> np.ndarray:
    """(N, 3) unit normals spread evenly over the hemisphere facing the camera (z < 0)."""
    i = np.arange(count) + 0.5
    z = -i / count
    r = np.sqrt(1.0 - z * z)
    angle = math.pi * (3.0 - math.sqrt(5.0)) * i
    return np.stack([r * np.cos(angle), r * np.sin(angle), z], axis=1)


def light_rmse(predicted: np.ndarray, expected: np.ndarray) -> float:
    """The light error of one face: the RMS difference of (N, 3) irradiances on the same normals after
    the best scale per channel (light and albedo trade off in a photo), relative to ``expected``'s RMS."""
    rmse, _ = scaled_rmse(predicted, expected)
    return rmse / float(np.sqrt((np.asarray(expected) ** 2).mean()))


def envmap_irradiance(envmap: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """Unshadowed irradiance E(n) = ∫ L(ω) max(0, n·ω) dω of a lat-long radiance map.

    Args:
        envmap: (H, W, 3) linear radiance laid out as :mod:`facerecon.envmap` says.
        normals: (N, 3) unit camera-frame normals.
    Returns:
        (N, 3) irradiance, integrated over the map's texels.
    """
    height, width = envmap.shape[:2]
    directions = latlong_directions(height, width, dtype=torch.float64).numpy().reshape(-1, 3)
    theta = (np.arange(height) + 0.5) * math.pi / height
    solid_angle = np.repeat(np.sin(theta) * (math.pi / height) * (2.0 * math.pi / width), width)
    radiance = np.asarray(envmap, np.float64).reshape(-1, 3) * solid_angle[:, None]
    return np.clip(np.asarray(normals, np.float64) @ directions.T, 0.0, None) @ radiance


def _nme(points: np.ndarray, reference: np.ndarray) -> float:
    """Mean landmark distance over the reference's outer-eye-corner distance."""
    return float(landmark_distances(points, reference).mean())


def _srgb(linear: np.ndarray) -> np.ndarray:
    return linear_to_srgb(np.clip(np.asarray(linear, np.float64), 0.0, 1.0))


def _photometric(prediction: Prediction, photo: np.ndarray | None, region: np.ndarray) -> dict[str, float]:
    """``psnr_db`` and ``coverage`` of the render against the photo over ``region`` (H, W) bool."""
    if prediction.render is None or prediction.mask is None or photo is None or not region.any():
        return {"psnr_db": math.nan, "coverage": math.nan}
    covered = region & (prediction.mask >= _COVERED)
    return {"psnr_db": psnr(_srgb(prediction.render), photo.astype(np.float64) / 255.0, covered),
            "coverage": float(covered.sum() / region.sum())}


def score_prediction(prediction: Prediction, truth: FaceTruth, photo: np.ndarray | None = None,
                     settings: ScoreSettings = ScoreSettings()) -> FaceScore:
    """Every metric of :data:`METRICS` for one reconstruction of a photo with known truth.

    Args:
        prediction: the reconstruction; truth: what the photo shows.
        photo: (H, W, 3) uint8 sRGB input photo, for ``psnr_db`` (NaN without it).
    """
    geometry = score_geometry(prediction.vertices, prediction.faces, prediction.landmark_vertices, truth, settings)
    metrics = {name: math.nan for name in METRICS}
    metrics.update(geometry.metrics)
    truth_landmarks = truth.landmarks
    if prediction.landmarks_fitted is not None:
        metrics["landmark_nme"] = _nme(prediction.landmarks_fitted, truth_landmarks)
    if prediction.landmarks_detected is not None:
        metrics["detector_nme"] = _nme(prediction.landmarks_detected, truth_landmarks)
        if prediction.landmarks_fitted is not None:
            metrics["fit_nme"] = _nme(prediction.landmarks_fitted, prediction.landmarks_detected)

    region = face_region(truth, settings.crop_radius)
    if prediction.vertex_albedo is not None:
        truth_albedo = sample_map(truth.diffuse, truth.uvs)[region]
        if geometry.vertex_errors is not None:
            predicted = prediction.vertex_albedo[region]
        else:  # nearest aligned predicted vertex of each truth vertex
            from scipy.spatial import cKDTree

            _, nearest = cKDTree(geometry.transform(prediction.vertices)).query(truth.vertices[region])
            predicted = prediction.vertex_albedo[nearest]
        metrics["albedo_rmse"] = scaled_rmse(predicted, truth_albedo)[0]

    if prediction.envmap is not None:
        normals = camera_facing_normals()
        predicted, expected = envmap_irradiance(prediction.envmap, normals), truth.irradiance(normals)
        metrics["light_rmse"] = light_rmse(predicted, expected)
        luminance = predicted @ _REC709
        if luminance.max() > _DIRECTIONAL * max(luminance.min(), 1e-12):  # a light with a brightest side
            brightest = normals[int(np.argmax(luminance))]
            metrics["light_deg"] = float(angles_deg(brightest[None], np.asarray(truth.sun_direction)[None])[0])

    if truth.region is not None:
        metrics.update(_photometric(prediction, photo, np.asarray(truth.region, bool)))
    return FaceScore(metrics, geometry)


def score_baseline(name: str, truth: FaceTruth, settings: ScoreSettings = ScoreSettings()) -> FaceScore:
    """Geometry metrics of one of the truth's reference shapes (``truth.baselines[name]``), placed by
    the best alignment; the other metrics are NaN."""
    geometry = score_geometry(truth.baselines[name], truth.faces, truth.landmark_vertices, truth, settings)
    metrics = {name: math.nan for name in METRICS}
    metrics.update(geometry.metrics)
    return FaceScore(metrics, geometry)


def _outline(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """(H, W) bool inside the convex hull of the jaw and brow landmarks."""
    points = np.asarray(landmarks)[list(IBUG68_GROUPS["jaw"]) + list(IBUG68_GROUPS["brows"])]
    hull = cv2.convexHull(np.round(points).astype(np.int32))
    mask = np.zeros((height, width), np.uint8)
    cv2.fillConvexPoly(mask, hull, 1)
    return mask.astype(bool)


def score_photo(prediction: Prediction, photo: np.ndarray) -> dict[str, float]:
    """``fit_nme`` and ``psnr_db``/``coverage`` of a reconstruction of a photo without truth.

    The photometric region is the outline of the given landmarks (jaw and brows), or of the
    fitted ones when none were given.
    """
    metrics = {"fit_nme": math.nan, "psnr_db": math.nan, "coverage": math.nan}
    if prediction.landmarks_detected is not None and prediction.landmarks_fitted is not None:
        metrics["fit_nme"] = _nme(prediction.landmarks_fitted, prediction.landmarks_detected)
    outline = prediction.landmarks_detected if prediction.landmarks_detected is not None else prediction.landmarks_fitted
    if outline is not None:
        height, width = photo.shape[:2]
        metrics.update(_photometric(prediction, photo, _outline(outline, width, height)))
    return metrics
