"""The evaluation exporters on a real result of the sphere test model, read back from their files."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from facerecon.api import build
from facerecon.errors import FaceReconError
from facerecon.evaluation.prediction import PREDICTION_FILE, load_prediction
from facerecon.evaluation.scoring import NOW_LANDMARKS
from facerecon.imaging import sample_map
from facerecon.testing import scenes


@pytest.fixture(scope="module")
def result():
    return scenes.face_result(image_size=48, texture_size=16)


def _mesh(path):
    """(vertices, 0-based faces) of a plain OBJ, read line by line as the benchmarks' readers do."""
    lines = [line.split() for line in path.read_text().splitlines()]
    vertices = np.array([[float(x) for x in line[1:4]] for line in lines if line and line[0] == "v"])
    faces = np.array([[int(x.split("/")[0]) - 1 for x in line[1:4]] for line in lines if line and line[0] == "f"])
    return vertices, faces


def test_prediction_file_holds_the_result(result, tmp_path):
    (path,) = build("exporter", "prediction").export(result, tmp_path)
    assert path.name == PREDICTION_FILE
    prediction = load_prediction(tmp_path)
    assert np.array_equal(prediction.vertices, result.vertices.astype(np.float32))
    assert np.array_equal(prediction.faces, result.faces) and prediction.image_size == (48, 48)
    assert np.array_equal(prediction.landmark_vertices, result.landmark_vertices)
    assert np.allclose(prediction.vertex_albedo, sample_map(result.diffuse, result.uvs))
    assert np.allclose(prediction.landmarks_fitted, result.landmarks_fitted)
    assert np.allclose(prediction.render, result.renders["render"], atol=1e-3)  # stored as float16
    assert np.array_equal(prediction.envmap, result.envmap)


def test_now_submission(result, tmp_path):
    paths = build("exporter", "now").export(result, tmp_path)
    assert [p.name for p in paths] == ["sphere.obj", "sphere.npy"]
    vertices, faces = _mesh(paths[0])
    assert np.allclose(vertices, result.vertices, atol=1e-5) and np.array_equal(faces, result.faces)
    points = np.load(paths[1])
    assert points.shape == (7, 3)
    assert np.allclose(points, result.vertices[result.landmark_vertices[list(NOW_LANDMARKS)]])
    assert "vn" not in paths[0].read_text() and "vt" not in paths[0].read_text()  # NoW's loader wants v and f only


def test_realy_submission_keypoints_land_on_the_landmarks(result, tmp_path):
    paths = build("exporter", "realy", filename="7_frontal").export(result, tmp_path)
    assert [p.name for p in paths] == ["7_frontal.obj", "realy_template.obj", "realy_keypoints.txt"]
    vertices, faces = _mesh(paths[1])
    keypoints = np.asarray(json.loads(paths[2].read_text()))
    assert keypoints.shape == (68, 3)
    # REALY's reading: the template's triangle, weights (w0, w1, 1 - w0 - w1) on its corners.
    corners = vertices[faces[keypoints[:, 0].astype(int)]]
    weights = np.stack([keypoints[:, 1], keypoints[:, 2], 1 - keypoints[:, 1] - keypoints[:, 2]], 1)
    assert np.allclose((corners * weights[..., None]).sum(1), result.vertices[result.landmark_vertices], atol=1e-5)
    assert np.array_equal(_mesh(paths[0])[1], result.faces)


def test_benchmark_exporters_need_landmark_vertices(result, tmp_path):
    bare = dataclasses.replace(result, landmark_vertices=None)
    with pytest.raises(FaceReconError, match="landmark vertices"):
        build("exporter", "now").export(bare, tmp_path)
    assert len(build("exporter", "realy", template=False).export(bare, tmp_path)) == 1
