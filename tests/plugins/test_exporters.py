"""The built-in exporters on a real small result: a posed icosphere with a spherical unwrap,
seeded maps, the astronaut photo and a ray-traced sphere render; every file is read back."""
from __future__ import annotations

import dataclasses
import json
import struct

import cv2
import numpy as np
import pytest
import torch
import trimesh
from scipy.ndimage import map_coordinates
from skimage.data import astronaut

import plugins.exporters as exporters
from facerecon.geometry import euler_to_matrix, project
from facerecon.interfaces import BuildContext, Exporter, FaceResult
from facerecon.params import field_doc
from facerecon.registry import Registry
from plugins.exporters.envmap import tonemap
from plugins.exporters.maps import encode
from facerecon.report.strips import read_panels

WIDTH, HEIGHT, FOCAL, TEXTURE, RADIUS = 128, 96, 300.0, 32, 80.0
ROTATION = np.array([np.pi + 0.1, 0.2, 0.05])
TRANSLATION = np.array([5.0, -10.0, 500.0])
YUP = np.array([1.0, -1.0, -1.0])
NAMES = ["obj", "glb", "ply", "params", "landmarks", "envmap", "render-strip", "loss-plot"]


@pytest.fixture(scope="module")
def registry() -> Registry:
    registry = Registry()
    exporters.facerecon_register_components(registry)
    return registry


def make_exporter(registry, tmp_path, name, **params) -> Exporter:
    spec = registry.get("exporter", name)
    return spec.load()(spec.params(**params), BuildContext(torch.device("cpu"), tmp_path, build=None))


def pinhole(points: np.ndarray) -> np.ndarray:
    focal = torch.tensor([FOCAL], dtype=torch.float64)
    return project(torch.as_tensor(points)[None], focal, WIDTH, HEIGHT)[0].numpy()


def sphere_render(light_dir: np.ndarray, albedo: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ray-trace the sphere (centre TRANSLATION) seen by the pinhole: render, mask, shading."""
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH] + 0.5
    rays = np.stack([(xs - WIDTH / 2) / FOCAL, (ys - HEIGHT / 2) / FOCAL, np.ones_like(xs)], -1)
    rays /= np.linalg.norm(rays, axis=-1, keepdims=True)
    along = rays @ TRANSLATION
    disc = along**2 - (TRANSLATION @ TRANSLATION - RADIUS**2)
    mask = disc > 0
    hit = rays * (along - np.sqrt(np.maximum(disc, 0)))[..., None]
    normals = (hit - TRANSLATION) / RADIUS
    shading = np.clip(normals @ light_dir, 0, None) * mask
    shading3 = np.repeat(shading[..., None], 3, -1).astype(np.float32)
    return (shading3 * albedo).astype(np.float32), mask.astype(np.float32)[..., None], shading3


def make_result(seed: int = 0) -> tuple[FaceResult, np.ndarray]:
    """A FaceResult and the model-frame vertices it was posed from."""
    rng = np.random.default_rng(seed)
    sphere = trimesh.creation.icosphere(subdivisions=2, radius=RADIUS)
    model = np.asarray(sphere.vertices)
    rotation = euler_to_matrix(torch.as_tensor(ROTATION)[None])[0].numpy()
    vertices = model @ rotation.T + TRANSLATION
    uvs = np.stack([0.5 + np.arctan2(model[:, 0], model[:, 2]) / (2 * np.pi),
                    0.5 + np.arcsin(np.clip(model[:, 1] / RADIUS, -1, 1)) / np.pi], -1)
    diffuse = rng.uniform(0.05, 0.9, (TEXTURE, TEXTURE, 3)).astype(np.float32)
    render, mask, shading = sphere_render(np.array([0.0, -0.6, -0.8]), diffuse.mean((0, 1)))
    fitted = pinhole(vertices[:68])
    result = FaceResult(
        name="astronaut",
        image=cv2.resize(astronaut(), (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA),
        vertices=vertices.astype(np.float32),
        faces=np.asarray(sphere.faces),
        uvs=uvs.astype(np.float32),
        normals=(np.asarray(sphere.vertex_normals) @ rotation.T).astype(np.float32),
        diffuse=diffuse,
        specular=rng.uniform(0.02, 0.5, (TEXTURE, TEXTURE, 3)).astype(np.float32),
        roughness=rng.uniform(0.1, 0.9, (TEXTURE, TEXTURE, 1)).astype(np.float32),
        focal=FOCAL,
        rotation=ROTATION.astype(np.float32),
        translation=TRANSLATION.astype(np.float32),
        light=rng.normal(size=(9, 3)).astype(np.float32),
        lighting={"type": "sh", "params": {"bands": 3, "ambient": 1.0}, "convention": "real SH radiance"},
        coefficients={"identity": rng.normal(size=40).astype(np.float32),
                      "expression": rng.normal(size=10).astype(np.float32)},
        landmarks_detected=(fitted + rng.normal(0, 1.5, fitted.shape)).astype(np.float32),
        landmarks_fitted=fitted.astype(np.float32),
        envmap=rng.uniform(0, 3, (16, 32, 3)).astype(np.float32),
        renders={"render": render, "mask": mask, "diffuse_shading": shading},
        losses={"landmarks": list(100 * np.exp(-np.arange(50) / 10) + 1),
                "photometric": list(5 * np.exp(-np.arange(30) / 20) + 0.1)},
        info={"model": "icosphere", "steps": np.int64(80)},
    )
    return result, model


@pytest.fixture(scope="module")
def posed() -> tuple[FaceResult, np.ndarray]:
    return make_result()


def read_png(path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if image.ndim == 3 else image


def read_glb(path) -> tuple[dict, bytes]:
    data = path.read_bytes()
    json_length = struct.unpack_from("<I", data, 12)[0]
    tree = json.loads(data[20:20 + json_length])
    return tree, data[20 + json_length + 8:]


def test_registration_documents_every_param(registry):
    assert registry.names("exporter") == sorted(NAMES)
    for name in NAMES:
        spec = registry.get("exporter", name)
        assert spec.params.__doc__ and spec.summary
        assert all(field_doc(f) for f in dataclasses.fields(spec.params)), name
        assert issubclass(spec.load(), Exporter)


def test_obj_round_trip(registry, tmp_path, posed):
    result, _ = posed
    written = make_exporter(registry, tmp_path, "obj").export(result, tmp_path)
    assert sorted(p.name for p in written) == [
        "diffuse.png", "mesh.mtl", "mesh.obj", "roughness.png", "specular.png"]
    mesh = trimesh.load(tmp_path / "mesh.obj", process=False, maintain_order=True)
    np.testing.assert_allclose(mesh.vertices, result.vertices * YUP, atol=1e-5)  # y up by default
    np.testing.assert_array_equal(mesh.faces, result.faces)
    np.testing.assert_allclose(mesh.visual.uv, result.uvs, atol=1e-6)
    texture = np.asarray(mesh.visual.material.image)[..., :3]
    np.testing.assert_array_equal(texture, encode(result.diffuse))
    np.testing.assert_array_equal(read_png(tmp_path / "specular.png"), encode(result.specular))
    roughness = encode(result.roughness, srgb=False)[..., 0]
    np.testing.assert_array_equal(read_png(tmp_path / "roughness.png"), roughness)
    mtl = (tmp_path / "mesh.mtl").read_text().splitlines()
    assert {"map_Kd diffuse.png", "map_Ks specular.png", "map_Pr roughness.png"} <= set(mtl)
    lines = (tmp_path / "mesh.obj").read_text().splitlines()
    first_face = next(line for line in lines if line.startswith("f "))
    a, b, c = result.faces[0] + 1
    assert first_face == f"f {a}/{a}/{a} {b}/{b}/{b} {c}/{c}/{c}"


def test_obj_camera_frame_without_maps(registry, tmp_path, posed):
    result, _ = posed
    exporter = make_exporter(registry, tmp_path, "obj", maps=False, frame="camera", filename="bare")
    assert [p.name for p in exporter.export(result, tmp_path)] == ["bare.obj"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bare.obj"]
    mesh = trimesh.load(tmp_path / "bare.obj", process=False, maintain_order=True)
    np.testing.assert_allclose(mesh.vertices, result.vertices, atol=1e-5)
    np.testing.assert_allclose(mesh.vertex_normals, result.normals, atol=1e-5)


def test_y_up_opens_the_model_upright_where_the_pose_put_it(registry, tmp_path, posed):
    """The default frame is the model's own axes (y up, +z out of the face) for a face that looks at
    the camera: with the pose's half turn about x removed, OBJ and PLY hold the model's vertices
    moved by the turned translation only, so several faces of one photo keep their arrangement."""
    result, model = posed
    frontal = dataclasses.replace(result, rotation=np.array([np.pi, 0.0, 0.0], np.float32),
                                  vertices=(model * YUP + TRANSLATION).astype(np.float32))
    for name in ("obj", "ply"):
        (path, *_) = make_exporter(registry, tmp_path, name).export(frontal, tmp_path)
        mesh = trimesh.load(path, process=False, maintain_order=True)
        np.testing.assert_allclose(mesh.vertices, model + TRANSLATION * YUP, atol=1e-4)


def test_glb_round_trip_material_and_camera(registry, tmp_path, posed):
    result, _ = posed
    (path,) = make_exporter(registry, tmp_path, "glb").export(result, tmp_path)
    scene = trimesh.load(path, process=False)
    (mesh,) = scene.geometry.values()
    # glTF frame: y and z flipped, metres
    np.testing.assert_allclose(mesh.vertices, result.vertices * YUP * 1e-3, atol=1e-6)
    np.testing.assert_array_equal(mesh.faces, result.faces)
    np.testing.assert_allclose(mesh.visual.uv, result.uvs, atol=1e-6)
    material = mesh.visual.material
    base_color = np.asarray(material.baseColorTexture)[..., :3]
    np.testing.assert_array_equal(base_color, encode(result.diffuse))
    metal_rough = np.asarray(material.metallicRoughnessTexture)
    ggx = encode(result.roughness[..., 0] ** 0.25, srgb=False)
    np.testing.assert_array_equal(metal_rough[..., 1], ggx)
    assert (metal_rough[..., 2] == 0).all()

    tree, blob = read_glb(path)
    specular = tree["materials"][0]["extensions"]["KHR_materials_specular"]
    assert "KHR_materials_specular" in tree["extensionsUsed"]
    np.testing.assert_allclose(specular["specularColorFactor"], [25.0] * 3)
    texture = tree["textures"][specular["specularColorTexture"]["index"]]
    view = tree["bufferViews"][tree["images"][texture["source"]]["bufferView"]]
    png = np.frombuffer(blob[view["byteOffset"]:view["byteOffset"] + view["byteLength"]], np.uint8)
    decoded = cv2.cvtColor(cv2.imdecode(png, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(decoded, encode(result.specular))

    # the camera node sees the vertices where the pinhole puts them
    (camera,) = tree["cameras"]
    assert any(node.get("camera") == 0 and "matrix" not in node for node in tree["nodes"])
    tan_half = np.tan(camera["perspective"]["yfov"] / 2)
    aspect = camera["perspective"]["aspectRatio"]
    assert aspect == pytest.approx(WIDTH / HEIGHT)
    v = mesh.vertices
    ndc = np.stack([v[:, 0] / -v[:, 2] / (tan_half * aspect), v[:, 1] / -v[:, 2] / tan_half], -1)
    pixels = np.stack([(ndc[:, 0] + 1) / 2 * WIDTH, (1 - ndc[:, 1]) / 2 * HEIGHT], -1)
    np.testing.assert_allclose(pixels, pinhole(result.vertices.astype(np.float64)), atol=1e-3)


def test_ply_vertex_colours_sample_the_diffuse_map(registry, tmp_path, posed):
    result, _ = posed
    (path,) = make_exporter(registry, tmp_path, "ply").export(result, tmp_path)
    assert path.read_bytes().startswith(b"ply\nformat binary_little_endian")
    mesh = trimesh.load(path, process=False)
    np.testing.assert_allclose(mesh.vertices, result.vertices * YUP, rtol=1e-6)
    np.testing.assert_array_equal(mesh.faces, result.faces)
    rows = (1 - result.uvs[:, 1]) * TEXTURE - 0.5
    cols = result.uvs[:, 0] * TEXTURE - 0.5
    sampled = np.stack([map_coordinates(result.diffuse[..., c], [rows, cols], order=1, mode="nearest")
                        for c in range(3)], -1)
    colours = mesh.visual.vertex_colors[:, :3].astype(int)
    assert np.abs(colours - encode(sampled).astype(int)).max() <= 1


def test_params_json_round_trips_and_reprojects(registry, tmp_path, posed):
    result, model = posed
    (path,) = make_exporter(registry, tmp_path, "params").export(result, tmp_path)
    data = json.loads(path.read_text())
    for name, values in result.coefficients.items():
        np.testing.assert_allclose(data["coefficients"][name], values, rtol=1e-6)
    np.testing.assert_allclose(data["pose"]["rotation_euler"], result.rotation, rtol=1e-6)
    np.testing.assert_allclose(data["pose"]["translation_mm"], result.translation)
    assert data["light"]["type"] == "sh" and data["light"]["params"]["bands"] == 3 and "convention" in data["light"]
    np.testing.assert_allclose(data["light"]["coefficients"], result.light, rtol=1e-6)
    np.testing.assert_allclose(data["landmarks"]["fitted"], result.landmarks_fitted, rtol=1e-6)
    assert data["info"] == {"model": "icosphere", "steps": 80} and data["conventions"]["units"] == "mm"
    intr = data["camera"]["intrinsics"]
    assert (intr["width"], intr["height"], intr["fx"], intr["cx"]) == (WIDTH, HEIGHT, FOCAL, WIDTH / 2)

    extrinsics = np.array(data["camera"]["extrinsics"])
    np.testing.assert_allclose(extrinsics[:3, :3], data["pose"]["rotation_matrix"])
    camera = model @ extrinsics[:3, :3].T + extrinsics[:3, 3]
    np.testing.assert_allclose(camera, result.vertices, atol=1e-3)
    homogeneous = camera @ np.array(intr["K"]).T
    np.testing.assert_allclose(homogeneous[:, :2] / homogeneous[:, 2:], pinhole(camera), atol=1e-9)


def test_landmarks_json(registry, tmp_path, posed):
    result, _ = posed
    (path,) = make_exporter(registry, tmp_path, "landmarks").export(result, tmp_path)
    data = json.loads(path.read_text())
    np.testing.assert_allclose(data["detected"], result.landmarks_detected, rtol=1e-6)
    error = np.linalg.norm(result.landmarks_fitted - result.landmarks_detected, axis=1).mean()
    assert data["mean_error_px"] == pytest.approx(error, rel=1e-5) and 1.0 < error < 3.0
    bare = dataclasses.replace(result, landmarks_detected=None, landmarks_fitted=None)
    assert make_exporter(registry, tmp_path, "landmarks", filename="none").export(bare, tmp_path) == []


def test_envmap_png_and_npy(registry, tmp_path, posed):
    result, _ = posed
    written = make_exporter(registry, tmp_path, "envmap", save_npy=True).export(result, tmp_path)
    assert [p.name for p in written] == ["envmap.png", "envmap.npy"]
    np.testing.assert_array_equal(read_png(written[0]), encode(result.envmap / (1 + result.envmap)))
    np.testing.assert_array_equal(np.load(written[1]), result.envmap)
    np.testing.assert_allclose(tonemap(np.array([[[-1.0, 0.5, 4.0]]]), 1.0, "clip"), [[[0.0, 1.0, 1.0]]])


def test_render_strip_panels_and_overlay(registry, tmp_path, posed):
    result, _ = posed
    path, sidecar = make_exporter(registry, tmp_path, "render-strip", zoom=None).export(result, tmp_path)
    strip = read_png(path)
    photo_width = round(WIDTH * 256 / HEIGHT)
    # input, overlay, render, illumination at the photo's aspect; three square maps
    assert strip.shape == (256, 4 * photo_width + 3 * 256, 3)
    # the sidecar names every panel, and reports cut them out again
    assert sidecar.name == "render.panels.json"
    panels = read_panels(path)
    assert list(panels) == ["input", "overlay", "render", "diffuse", "specular", "roughness", "illumination"]
    assert [p.shape[1] for p in panels.values()] == [photo_width] * 3 + [256] * 3 + [photo_width]
    np.testing.assert_array_equal(panels["diffuse"], strip[:, 3 * photo_width:3 * photo_width + 256])

    exporter = make_exporter(registry, tmp_path, "render-strip", panel_height=None, labels=False,
                             landmark_radius=0, filename="plain", zoom=None)
    strip = read_png(exporter.export(result, tmp_path)[0])
    assert strip.shape == (HEIGHT, 4 * WIDTH + 3 * HEIGHT, 3)
    photo, overlay = strip[:, :WIDTH].astype(int), strip[:, WIDTH:2 * WIDTH].astype(int)
    np.testing.assert_array_equal(photo, result.image)
    np.testing.assert_array_equal(read_panels(tmp_path / "plain.png")["overlay"], overlay)
    covered = result.renders["mask"][..., 0] > 0.5
    assert 1500 < covered.sum() < 0.7 * WIDTH * HEIGHT
    assert (overlay[~covered] == photo[~covered]).all()
    np.testing.assert_array_equal(overlay[covered], encode(result.renders["render"])[covered])
    assert np.abs(overlay[covered] - photo[covered]).mean() > 20

    with_points = read_png(make_exporter(registry, tmp_path, "render-strip", panel_height=None, labels=False,
                                         filename="points", zoom=None).export(result, tmp_path)[0])[:, WIDTH:2 * WIDTH]
    assert (with_points != strip[:, WIDTH:2 * WIDTH]).any(axis=-1).sum() > 68
    red = (with_points[..., 0] > 200) & (with_points[..., 1] < 60) & (with_points[..., 2] < 60)
    green = (with_points[..., 1] > 200) & (with_points[..., 0] < 60) & (with_points[..., 2] < 60)
    assert red.sum() > 20 and green.sum() > 5

    bare = dataclasses.replace(result, renders={})
    strip = read_png(exporter.export(bare, tmp_path)[0])
    assert strip.shape == (HEIGHT, WIDTH + 3 * HEIGHT, 3)


def test_render_strip_zooms_on_the_face(registry, tmp_path, posed):
    from plugins.exporters.render_strip import face_window

    result, _ = posed
    x0, y0, side = face_window(result, 1.8)
    points = np.concatenate([result.landmarks_detected, result.landmarks_fitted])
    assert x0 <= points[:, 0].min() and points[:, 0].max() <= x0 + side
    assert y0 <= points[:, 1].min() and points[:, 1].max() <= y0 + side
    exporter = make_exporter(registry, tmp_path, "render-strip", panel_height=side, labels=False, landmark_radius=0)
    strip = read_png(exporter.export(result, tmp_path)[0])
    assert strip.shape == (side, 7 * side, 3)  # every panel square: four photo windows and three maps
    window = np.zeros((side, side, 3), np.uint8)
    ys, xs = slice(max(y0, 0), min(y0 + side, HEIGHT)), slice(max(x0, 0), min(x0 + side, WIDTH))
    window[ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0] = result.image[ys, xs]
    np.testing.assert_array_equal(strip[:, :side], window)


def test_loss_plot(registry, tmp_path, posed):
    result, _ = posed
    (path,) = make_exporter(registry, tmp_path, "loss-plot").export(result, tmp_path)
    image = read_png(path)
    assert image.shape[:2] == (300, 800) and image.std() > 5
    assert make_exporter(registry, tmp_path, "loss-plot").export(
        dataclasses.replace(result, losses={}), tmp_path / "none") == []


def test_atomic_writes_and_clean_overwrite(registry, tmp_path, posed):
    result, _ = posed
    built = [make_exporter(registry, tmp_path, name, **({"save_npy": True} if name == "envmap" else {}))
             for name in NAMES]
    first = sorted(p.name for e in built for p in e.export(result, tmp_path))
    listing = sorted(p.name for p in tmp_path.iterdir())
    assert listing == sorted(set(first)) and not any(name.startswith(".") for name in listing)
    assert len(first) == len(set(first)), "two exporters wrote the same file"

    other, _ = make_result(seed=1)
    second = sorted(p.name for e in built for p in e.export(other, tmp_path))
    assert second == first and sorted(p.name for p in tmp_path.iterdir()) == listing
    np.testing.assert_array_equal(read_png(tmp_path / "diffuse.png"), encode(other.diffuse))
    assert json.loads((tmp_path / "params.json").read_text())["light"]["coefficients"][0][0] == pytest.approx(
        float(other.light[0, 0]))
