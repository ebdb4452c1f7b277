"""The report of an output folder, read from disk: contact sheet, page and packed meshes.

The folder is made the way a run makes it: every built-in exporter writes a real result
(``facerecon.testing.scenes.face_result``, the sphere model) into a staged item folder with its
completion marker, and :func:`facerecon.runner.write_summary` lists it with a suspect face and two
failed inputs. The browser test (``tests/cli/test_report_browser.py``) opens such pages in Chromium.
"""
from __future__ import annotations

import base64
import dataclasses
import gzip
import json
import re

import numpy as np
import pytest
import trimesh

from facerecon.api import build
from facerecon.imaging import read_image
from facerecon.interfaces import RunSummary
from facerecon.outputs import OutputFolder
from facerecon.report import CONTACT_SHEET_NAME, REPORT_NAME, read_run, write_report
from facerecon.report.contact import STATUS_COLOURS, face_panels
from facerecon.report.meshdata import mesh_payload
from facerecon.runner import write_summary
from facerecon.testing.scenes import face_result

EXPORTERS = ("obj", "glb", "ply", "params", "landmarks", "envmap", "render-strip", "loss-plot")


def write_face(outputs: OutputFolder, name: str, row: dict, seed: int) -> dict:
    """Export a sphere result into item ``name`` as the fit task does; return its summary row."""
    result = dataclasses.replace(face_result(name=name, image_size=96, texture_size=32, seed=seed), name=name)
    with outputs.stage(name) as folder:
        written = []
        for exporter in EXPORTERS:
            written += build("exporter", exporter).export(result, folder)
        row = {"face": name, **row, "preview": str(outputs.root / name / "render.png"),
               "outputs": [str(outputs.root / name / p.name) for p in written]}
        outputs.write_marker(folder, row)
    return row


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    outputs = OutputFolder(root, {"task": {"type": "fit"}})
    (root / "recipe.resolved.yaml").write_text("task: {type: fit}\n")
    rows = [write_face(outputs, "alpha", {"status": "ok", "seconds": 1.5, "landmark_error_iod": 0.05}, 0),
            write_face(outputs, "beta", {"status": "suspect", "reason": "fitted landmarks far off", "seconds": 2.0,
                                         "landmark_error_iod": 0.4}, 1)]
    summary = RunSummary(rows=rows, skipped=[("blank", "no face detected"), ("corrupt", "Cannot read corrupt.jpg")],
                         seconds=3.5)
    write_summary(summary, root)
    return root


def test_the_folder_reads_back_in_the_summary_order(run_folder):
    record = read_run(run_folder)
    assert [(f.name, f.status) for f in record.faces] == [
        ("alpha", "ok"), ("beta", "suspect"), ("blank", "failed"), ("corrupt", "failed")]
    alpha, beta, blank, _ = record.faces
    assert beta.reason == "fitted landmarks far off" and blank.reason == "no face detected"
    assert alpha.preview.name == "render.png" and alpha.pictures[0] == alpha.preview
    assert {"diffuse.png", "envmap.png", "loss.png", "roughness.png", "specular.png"} <= {p.name for p in alpha.pictures}
    assert alpha.mesh.name == "mesh.glb" and alpha.values == {"seconds": 1.5, "landmark_error_iod": 0.05}
    assert blank.folder is None and record.seconds == 3.5 and record.counts() == {"ok": 1, "suspect": 1, "failed": 2}


def test_contact_panels_are_the_strips_input_overlay_render(run_folder):
    face = read_run(run_folder).faces[0]
    panels = face_panels(face, 64)
    strip = read_image(face.preview)
    height = strip.shape[0]
    assert panels.shape[0] == 64
    photo = read_image(face.preview)[:, :height]  # the sphere result's photo panel is square
    np.testing.assert_allclose(panels[:, :64].mean((0, 1)), photo.mean((0, 1)), atol=3)
    assert panels.shape[1] == 3 * 64


def test_report_and_contact_sheet(run_folder):
    written = write_report(run_folder)
    assert written == [run_folder / REPORT_NAME, run_folder / CONTACT_SHEET_NAME]
    page = (run_folder / REPORT_NAME).read_text()
    for name in ("alpha", "beta", "blank", "corrupt"):
        assert page.count(f'data-face="{name}"') == 2  # its card and its section
    assert "no face detected" in page and "fitted landmarks far off" in page
    # one file: nothing to fetch, no external script, style or picture
    assert not re.search(r"<(script|img|link)[^>]+(src|href)=\"(?!data:)", page)
    assert "http://" not in page.replace("http://www.w3.org/", "") and "https://" not in page
    assert page.count('class="mesh3d" data-mesh=') == 2 and 'id="mesh-1"' in page
    sheet = read_image(run_folder / CONTACT_SHEET_NAME)
    for status in ("ok", "suspect", "failed"):
        colour = np.array(STATUS_COLOURS[status])
        assert (np.abs(sheet.astype(int) - colour).sum(-1) == 0).sum() > 500, status


def test_packed_mesh_matches_the_glb(run_folder):
    """The viewer's payload holds the GLB's triangles and vertices (to the int16 step) and its texture."""
    path = run_folder / "alpha" / "mesh.glb"
    payload = mesh_payload(path)
    layout = payload["layout"]
    buffer = gzip.decompress(base64.b64decode(payload["geometry"]))
    count = layout["vertices"]
    half = np.array(layout["half"])
    positions = np.frombuffer(buffer, "<i2", count * 3, layout["positions"]).reshape(-1, 3) / 32767 * half
    faces = np.frombuffer(buffer, "<u2" if layout["index_bytes"] == 2 else "<u4", layout["triangles"] * 3,
                          layout["faces"]).reshape(-1, 3)
    (mesh,) = trimesh.load(path, process=False).geometry.values()
    vertices = np.asarray(mesh.vertices)
    centred = vertices - (vertices.min(0) + vertices.max(0)) / 2
    np.testing.assert_allclose(positions, centred, atol=float(half.max()) / 32767)
    np.testing.assert_array_equal(faces, mesh.faces)
    uvs = np.frombuffer(buffer, "<u2", count * 2, layout["uvs"]).reshape(-1, 2) / 65535
    np.testing.assert_allclose(uvs, mesh.visual.uv, atol=1 / 65535)
    assert payload["texture"].startswith("data:image/jpeg;base64,")
    assert json.loads(json.dumps(payload)) == payload


def test_facerecon_report_rebuilds_the_page(run_folder, tmp_path):
    from click.testing import CliRunner

    from facerecon.cli import main

    (run_folder / REPORT_NAME).unlink()
    result = CliRunner().invoke(main, ["report", str(run_folder)])
    assert result.exit_code == 0, result.output
    assert f"wrote {run_folder / REPORT_NAME}" in result.output and (run_folder / REPORT_NAME).is_file()
    empty = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert empty.exit_code == 1 and "holds no results of a run" in empty.output and "Traceback" not in empty.output
