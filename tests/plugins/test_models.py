"""Morphable model plugins: bfm-lite on the real 3DDFA arrays, bfm2009 on toy files in the real formats."""
from __future__ import annotations

import dataclasses
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.path import Path as PolygonPath

from facerecon.errors import FaceReconError
from facerecon.imaging import srgb_to_linear
from facerecon.interfaces import BuildContext
from facerecon.registry import Registry
from facerecon.testing import MorphableModelContract
from plugins.models import Bfm2009Params, BfmLiteParams, facerecon_register_components
from plugins.models.bfm2009 import Bfm2009, map_landmarks
from plugins.models.bfm_lite import BfmLite, locate_arrays
from plugins.models.files import ModelFileInvalid, ModelFileMissing
from plugins.models.mouth import CAVITY_DEPTH_MM, CAVITY_LAYERS
from plugins.models.surface import boundary_loops, edge_lengths, mesh_report, unwrap
from plugins.models.uvmap import rasterize_uv, texel_centres

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fixtures_models import write_toy_bfm2009  # noqa: E402

# iBUG-68 left/right pairs (the subject's right <-> left).
IBUG_MIRROR = ([(i, 16 - i) for i in range(8)] + [(17 + i, 26 - i) for i in range(5)]
               + [(31, 35), (32, 34), (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46),
                  (48, 54), (49, 53), (50, 52), (59, 55), (58, 56), (60, 64), (61, 63), (67, 65)])


def context(cache: Path, device: torch.device | str = "cpu") -> BuildContext:
    return BuildContext(torch.device(device), cache, build=None)


@pytest.fixture(scope="module")
def lite_cache(tmp_path_factory) -> Path:
    """A cache folder shared by this module's bfm-lite builds (the first one derives the mesh)."""
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="module")
def lite(lite_cache) -> BfmLite:
    return BfmLite(BfmLiteParams(), context(lite_cache))


# ---------------------------------------------------------------- registration


def test_registration_is_light_and_complete():
    registry = Registry()
    facerecon_register_components(registry)
    assert registry.get("morphable_model", "bfm-lite").load() is BfmLite
    assert registry.get("morphable_model", "bfm2009").load() is Bfm2009
    for params in (BfmLiteParams, Bfm2009Params):
        assert params.__dataclass_params__.frozen
        assert all(f.metadata.get("doc") for f in dataclasses.fields(params)), f"{params.__name__} has undocumented fields"


# ---------------------------------------------------------------- bfm-lite


class TestBfmLiteContract(MorphableModelContract):
    @pytest.fixture
    def component(self, device, lite_cache):
        return BfmLite(BfmLiteParams(), context(lite_cache, device))


def test_lite_layout_and_units(lite):
    """53,215 vertices of the 3DDFA arrays, then the mouth cavity's (CAVITY_LAYERS rings and a centre)."""
    cavity = lite.cavity
    rings = (int(cavity.sum()) - 1) / CAVITY_LAYERS
    assert not cavity[:53215].any() and cavity[53215:].all() and rings == int(rings) and 80 < rings < 160
    assert (lite.n_identity, lite.n_expression, lite.n_albedo) == (40, 10, 0)
    assert 90_000 < lite.faces.shape[0] < 110_000
    lm = lite.mean[lite.landmarks]
    width = (lm[0] - lm[16]).norm().item()
    assert 120 < width < 170, f"jaw-to-jaw width {width:.1f} mm"
    face = lite.mean[lite.face_mask]
    assert 120 < (face[:, 0].max() - face[:, 0].min()).item() < 170
    # Centred on the head centre: the midpoint of landmarks 0 and 16.
    assert torch.allclose((lm[0] + lm[16]) / 2, torch.zeros(3), atol=1e-3)


def test_lite_landmarks_are_where_faces_have_them(lite):
    lm = lite.mean[lite.landmarks]
    assert lm[30, 2] == lm[:, 2].max(), "the nose tip is the most forward landmark"
    assert lm[8, 1] == lm[:, 1].min(), "the chin is the lowest landmark"
    assert lm[36:48, 1].min() > lm[27:36, 1].min() > lm[48:68, 1].max(), "eyes above the nose bottom above the mouth"
    assert lm[17:27, 1].mean() > lm[36:48, 1].mean(), "brows above the eyes"
    mirrored = lm * lm.new_tensor([-1.0, 1.0, 1.0])
    for right, left in IBUG_MIRROR:
        assert (mirrored[right] - lm[left]).norm() < 4.0, f"landmarks {right} and {left} are not mirror images"


def test_lite_symmetry_maps_landmarks_to_their_mirrors(lite):
    for right, left in IBUG_MIRROR:
        mirror = lite.mean[lite.symmetry[lite.landmarks[right]]]
        assert (mirror - lite.mean[lite.landmarks[left]]).norm() < 4.0
    sym = lite.symmetry
    assert (sym[sym] == torch.arange(lite.n_vertices)).float().mean() > 0.96


def _skin(model) -> np.ndarray:
    """(F,) bool: triangles with no mouth-cavity vertex."""
    return ~model.cavity[model.faces].any(-1).numpy()


def test_lite_triangulation_is_clean(lite):
    """A consistently oriented manifold whose only boundary is its outline: no holes anywhere."""
    vertices, faces = lite.mean.double().numpy(), lite.faces.numpy()
    report = mesh_report(vertices, faces)
    assert report["non_manifold_edges"] == 0
    assert report["unused_vertices"] < 0.1 * len(vertices)  # nostril insides and ear folds
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    assert len(np.unique(directed, axis=0)) == len(directed), "an edge runs the same way in two triangles"
    loops = boundary_loops(faces)
    assert len(loops) == 1 and len(loops[0]) == report["boundary_edges"], [len(loop) for loop in loops]
    skin = _skin(lite)
    longest = edge_lengths(vertices, faces).max(1)
    assert (longest[skin] > BfmLiteParams().max_edge_mm).mean() < 0.01, "only the triangles closing holes are long"
    a, b, c = (vertices[faces[skin, i]] for i in range(3))
    normals = np.cross(b - a, c - a)
    outward = np.einsum("fi,fi->f", normals, (a + b + c) / 3) > 0
    area = np.linalg.norm(normals, axis=1)
    assert area[outward].sum() > 0.999 * area.sum(), "triangles must be counter-clockwise seen from outside"
    front = lite.face_mask[lite.faces[skin]].all(-1).numpy()
    assert normals[front, 2].sum() > 0, "the face's triangles look towards +z"


def test_lite_face_has_no_holes_seen_from_the_front(lite):
    """Rasterise the mean shape orthographically along z: the skin covers all but the lip slit, the cavity that."""
    vertices = lite.mean.double().numpy()
    low, size = vertices[:, :2].min(0), np.ptp(vertices[:, :2], 0).max() * 1.01
    flat = ((vertices[:, :2] - low) / size).astype(np.float32)
    centres = texel_centres(256) * size + low
    lm = vertices[lite.landmarks.numpy(), :2]
    outline = np.concatenate([lm[:17], lm[26:16:-1] + [0.0, 10.0]])  # jaw, then brows raised 1 cm
    inside = PolygonPath(outline).contains_points(centres)
    _, _, skin_covers = rasterize_uv(flat, lite.faces.numpy()[_skin(lite)], 256)
    _, _, all_cover = rasterize_uv(flat, lite.faces.numpy(), 256)
    assert 0.99 < skin_covers[inside].mean() < 1.0  # the lip slit
    assert all_cover[inside].all(), "the nostrils and the lip slit must be closed"


def test_lite_lips_do_not_bridge_and_expressions_move_the_mouth(lite):
    """Mouth-opening expressions stretch no skin triangle more than twice (bar a filled speck at
    a mouth corner): nothing spans the lips."""
    faces = lite.faces.numpy()
    rest = edge_lengths(lite.mean.double().numpy(), faces)
    worst = np.ones(len(faces))
    for k in range(lite.n_expression):
        for sign in (-3.0, 3.0):
            moved = (lite.mean + sign * lite.expression_basis[k]).double().numpy()
            worst = np.maximum(worst, (edge_lengths(moved, faces) / rest).max(1))
    assert (worst[_skin(lite)] > 2.0).sum() <= 4
    motion = lite.expression_basis.norm(dim=-1)  # (K, V) mm per std
    mouth, brows = lite.landmarks[48:68], lite.landmarks[17:27]
    assert motion[:, mouth].mean() > 3 * motion[:, brows].mean()
    opened = lite.shape(torch.zeros(1, 40), torch.tensor([[-3.0] + [0.0] * 9]))[0]
    gap = lambda v: (v[lite.landmarks[62], 1] - v[lite.landmarks[66], 1]).item()  # noqa: E731
    assert abs(gap(opened) - gap(lite.mean)) > 5.0, "expression component 0 opens or closes the mouth"


def test_lite_mouth_cavity_hangs_behind_the_lips_and_moves_with_them(lite):
    """The pocket starts at the inner-lip ring, reaches CAVITY_DEPTH_MM back, is no part of the
    face region, and every vertex follows the lips (its bases mix the ring's)."""
    cavity, faces = lite.cavity, lite.faces
    ring = torch.unique(faces[cavity[faces].any(-1)][~cavity[faces[cavity[faces].any(-1)]]])
    lips = lite.mean[lite.landmarks[48:68]]
    assert (torch.cdist(lite.mean[ring], lips).min(1).values < 8.0).all(), "the ring runs along the lips"
    assert lite.mean[cavity, 2].max() < lite.mean[ring, 2].max()
    assert abs(lite.mean[ring, 2].mean() - lite.mean[-1, 2] - CAVITY_DEPTH_MM) < 1e-3  # the back fan's centre
    assert not lite.face_mask[cavity].any()
    identity, expression = torch.zeros(1, 40), torch.tensor([[-3.0, 1.0] + [0.0] * 8])
    moved = lite.shape(identity, expression)[0] - lite.mean
    back = moved[-1]  # the back fan's centre: the mean of the ring
    assert torch.allclose(back, moved[ring].mean(0), atol=1e-3)
    assert moved[cavity].norm(dim=-1).min() > 1.0, "the whole pocket moves when the jaw opens"


def test_lite_mouth_cavity_is_dark_and_hidden_until_the_mouth_opens(lite):
    """Rendered with the rasterizer's defaults: on a closed mouth, seen from the front, the sides,
    above or below, the cavity shows only as the dark line between the lips (nowhere through the
    cheeks or chin); an open mouth shows dark cavity, not the background."""
    from facerecon.api import build
    from facerecon.geometry import apply_pose, vertex_normals
    from facerecon.interfaces import Camera, Mesh, Scene

    textures = lite.textures(None, 1)
    dark = textures.diffuse.reshape(-1, 3)[lite.texel_cavity > 0.99]
    assert len(dark) > 50 and torch.allclose(dark, torch.tensor(BfmLiteParams().mouth_diffuse), atol=1e-6)
    assert not lite.texel_mask[lite.texel_cavity > 0].any()
    poses = [(0, 0), (0, 40), (0, -40), (25, 0), (-25, 0), (0, 0)]
    expression = torch.zeros(len(poses), 10)
    expression[-1, :2] = torch.tensor([-3.0, 1.0])
    rotation = torch.deg2rad(torch.tensor(poses, dtype=torch.float32))
    rotation = torch.cat([rotation + torch.tensor([math.pi, 0.0]), torch.zeros(len(poses), 1)], 1)
    vertices = apply_pose(lite.shape(torch.zeros(len(poses), 40), expression), rotation,
                          torch.tensor([0.0, -25.0, 500.0]).expand(len(poses), 3))
    mesh = Mesh(vertices, lite.faces, lite.uvs, vertex_normals(vertices, lite.faces))
    lighting, reflectance = build("lighting", "sh"), build("reflectance", "lambertian")
    scene = Scene(mesh, Camera(torch.full((len(poses),), 260.0), 128, 128), lite.textures(None, len(poses)),
                  lighting.initial(len(poses)), lighting, reflectance)
    with torch.no_grad():
        out = build("renderer", "rasterizer").render(scene)
    shows = torch.where(out.triangle_id >= 0, ~torch.from_numpy(_skin(lite))[out.triangle_id.clamp(min=0)], False)
    lips = scene.camera.project(vertices[:, lite.landmarks[48:60]])  # (B, 12, 2) outer lip contour
    rows, cols = torch.meshgrid(torch.arange(128) + 0.5, torch.arange(128) + 0.5, indexing="ij")
    near = ((cols >= lips[..., 0].min(1).values[:, None, None] - 1) & (cols <= lips[..., 0].max(1).values[:, None, None] + 1)
            & (rows >= lips[..., 1].min(1).values[:, None, None] - 1) & (rows <= lips[..., 1].max(1).values[:, None, None] + 1))
    assert (shows & ~near).sum() == 0, f"cavity pixels away from the lips: {(shows & ~near).sum((1, 2)).tolist()}"
    assert (shows[:-1].sum((1, 2)) < 40).all() and shows[-1].sum() > 3 * shows[0].sum()
    face = (out.mask[-1] > 0).numpy()
    from scipy import ndimage

    assert (ndimage.binary_fill_holes(face) & ~face).sum() == 0, "background shows through the face"
    assert out.image[-1][shows[-1]].mean(-1).median() < 0.1 * out.image[-1][face].mean()


def test_lite_uv_layout_is_conformal(lite):
    """Per face-region triangle, the singular values s1 >= s2 of the 3D -> uv Jacobian: the layout
    keeps shapes (s1/s2 near 1, no stripes in baked maps) and does not fold."""
    vertices, faces, uvs = lite.mean.double().numpy(), lite.faces.numpy(), lite.uvs.double().numpy()
    faces = faces[lite.face_mask[lite.faces].all(-1).numpy()]
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    x_axis = (b - a) / np.linalg.norm(b - a, axis=1, keepdims=True)
    normal = np.cross(b - a, c - a)
    y_axis = np.cross(normal / np.linalg.norm(normal, axis=1, keepdims=True), x_axis)
    local = np.stack([np.stack([((p - a) * x_axis).sum(1), ((p - a) * y_axis).sum(1)], 1) for p in (b, c)], 2)
    mapped = np.stack([uvs[faces[:, 1]] - uvs[faces[:, 0]], uvs[faces[:, 2]] - uvs[faces[:, 0]]], 2)
    jacobian = mapped @ np.linalg.inv(local)
    s = np.linalg.svd(jacobian, compute_uv=False)
    anisotropy = s[:, 0] / s[:, 1]
    print(f"uv anisotropy s1/s2: median {np.median(anisotropy):.3f}, 99th percentile {np.percentile(anisotropy, 99):.3f}")
    assert np.median(anisotropy) < 1.1 and np.percentile(anisotropy, 99) < 1.5
    assert (np.linalg.det(jacobian) <= 0).mean() < 1e-4, "folded uv triangles"
    scale = np.sqrt(s[:, 0] * s[:, 1])
    assert np.percentile(scale, 99) < 1.5 * np.median(scale), "texel density varies too much across the face"


def test_lite_coefficients_are_standard_deviations(lite):
    """One std of the first identity component moves vertices by millimetres, not micrometres or metres."""
    rms = lite.identity_basis.pow(2).sum(-1).mean(-1).sqrt()
    assert 1.0 < rms[0].item() < 5.0 and rms[0] == rms.max() and rms[-1] < rms[0] / 10
    lm = lite.landmarks
    for sign in (-3.0, 3.0):
        shaped = lite.shape(torch.tensor([[sign] + [0.0] * 39]), torch.zeros(1, 10))[0]
        assert 110 < (shaped[lm[0]] - shaped[lm[16]]).norm().item() < 190


def test_lite_shape_indices_match_the_full_shape(lite):
    gen = torch.Generator().manual_seed(0)
    identity, expression = torch.randn(2, 40, generator=gen), torch.randn(2, 10, generator=gen)
    full = lite.shape(identity, expression)
    assert torch.allclose(lite.shape(identity, expression, lite.landmarks), full[:, lite.landmarks], atol=1e-4)


def test_lite_uvs_mirror_with_the_vertices(lite):
    t = lite.texture_size
    mirrored = torch.stack([1 - lite.uvs[:, 0], lite.uvs[:, 1]], -1)
    used = torch.zeros(lite.n_vertices, dtype=torch.bool)
    used[lite.faces.reshape(-1)] = True
    error = (lite.uvs[lite.symmetry] - mirrored)[lite.face_mask & used].abs().max(-1).values * t
    # Across the lip slit a vertex's nearest mirror may lie on the other lip: a few texels apart.
    assert error.median() < 0.3 and error.quantile(0.99) < 1.5, "the mirror vertex should sit on the mirror texel (u -> 1 - u)"
    mask = lite.texel_mask
    assert 0.2 < mask.float().mean() < 0.8, "the face should fill a good part of the map"
    assert (mask[lite.texel_symmetry] == mask).float().mean() > 0.99


def test_lite_textures_are_the_constant_prior_and_a_dark_mouth(lite_cache):
    params = BfmLiteParams(texture_size=64, skin_diffuse=(0.5, 0.4, 0.3), skin_specular=0.05, roughness=0.3)
    model = BfmLite(params, context(lite_cache))
    tex = model.textures(None, 2)
    assert tex.diffuse.shape == (2, 64, 64, 3) and tex.roughness.shape == (2, 64, 64, 1)
    skin = (model.texel_cavity == 0).reshape(64, 64)
    assert 0.99 < skin.float().mean() < 1.0, "all but the mouth cavity's texels are skin"
    assert torch.allclose(tex.diffuse[:, skin], torch.tensor([0.5, 0.4, 0.3]).expand(2, int(skin.sum()), 3))
    assert torch.allclose(tex.specular, torch.full((2, 64, 64, 3), 0.05))
    assert torch.allclose(tex.roughness, torch.full((2, 64, 64, 1), 0.3))
    assert model.textures(torch.zeros(3, 0), 1).diffuse.shape[0] == 3
    assert model.texel_mask.shape == (64 * 64,)
    # The mean maps are computed once: later calls, at any batch size, read the same values.
    again = model.textures(None, 5)
    assert again.diffuse.shape == (5, 64, 64, 3) and again.diffuse.data_ptr() == tex.diffuse.data_ptr()
    assert torch.equal(again.diffuse[4], tex.diffuse[0]) and torch.equal(again.roughness[4], tex.roughness[1])


def test_lite_second_load_reads_the_cache(tmp_path):
    start = time.perf_counter()
    first = BfmLite(BfmLiteParams(texture_size=128), context(tmp_path))
    derive = time.perf_counter() - start
    start = time.perf_counter()
    second = BfmLite(BfmLiteParams(texture_size=128, n_identity=20, n_expression=5), context(tmp_path))
    load = time.perf_counter() - start
    print(f"bfm-lite: derived in {derive:.2f} s, loaded from the cache in {load:.3f} s")
    assert not first.cache_hit and second.cache_hit
    assert len(list((tmp_path / "models").glob("bfm-lite-*.npz"))) == 1
    assert torch.equal(first.faces, second.faces) and torch.equal(first.uvs, second.uvs)
    assert (second.n_identity, second.n_expression) == (20, 5)
    assert torch.equal(second.identity_basis, first.identity_basis[:20])


def test_lite_rejects_more_components_than_it_has(tmp_path):
    with pytest.raises(FaceReconError, match="40 identity"):
        BfmLite(BfmLiteParams(n_identity=41), context(tmp_path))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_lite_on_cuda(lite_cache):
    model = BfmLite(BfmLiteParams(), context(lite_cache, "cuda"))
    vertices = model.shape(torch.zeros(1, 40, device="cuda"), torch.zeros(1, 10, device="cuda"))
    assert vertices.is_cuda and model.faces.is_cuda and model.textures(None, 1).diffuse.is_cuda


# ---------------------------------------------------------------- bfm2009 (toy files)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return write_toy_bfm2009(tmp_path_factory.mktemp("morphableModel2009"), albedo=True)


def toy_params(toy, albedo: bool = False, **overrides) -> Bfm2009Params:
    files = {k: str(v) for k, v in toy.files.items() if albedo or k != "albedo_path"}
    return Bfm2009Params(**{**files, "n_identity": 6, "n_expression": 3, "n_albedo": 4, "texture_size": 64, **overrides})


class TestBfm2009Contract(MorphableModelContract):
    @pytest.fixture
    def component(self, device, toy, tmp_path):
        return Bfm2009(toy_params(toy), context(tmp_path, device))


def test_bfm2009_geometry_follows_the_files(toy, tmp_path):
    model = Bfm2009(toy_params(toy), context(tmp_path))
    n = len(toy.shape_mu) // 3
    source_mm = toy.shape_mu.reshape(n, 3) / 1000.0
    centre = (source_mm[toy.landmarks[0]] + source_mm[toy.landmarks[16]]) / 2
    assert model.n_vertices == n and torch.equal(model.landmarks, torch.from_numpy(toy.landmarks))
    assert np.allclose(model.mean.numpy(), source_mm - centre, atol=1e-3)
    assert np.allclose(model.centre.numpy(), centre, atol=1e-3)
    # identity component k, one std: shapePC[:, k] * shapeEV[k], micrometres -> mm
    one = model.shape(torch.eye(6)[2:3], torch.zeros(1, 3))[0] - model.mean
    assert np.allclose(one.numpy(), (toy.shape_pc[:, 2] * toy.shape_ev[2]).reshape(n, 3) / 1000.0, atol=1e-4)


def test_bfm2009_expressions_act_on_trim_index_only(toy, tmp_path):
    model = Bfm2009(toy_params(toy), context(tmp_path))
    offset = (model.shape(torch.zeros(1, 6), torch.eye(3)[:1]) - model.mean)[0]
    expected = np.zeros((model.n_vertices, 3))
    expected[toy.trim_index - 1] = toy.expression[0].reshape(-1, 3) * toy.std_exp[0] / 1000.0
    assert np.allclose(offset.numpy(), expected, atol=1e-5)
    assert offset[: 25].abs().max() == 0, "vertices outside trimIndex get no expression offset"
    assert offset[:, 1].min() < -1.9, "component 0 drops the lower face by 2 mm per std"


def test_bfm2009_triangles_are_reoriented_outwards(toy, tmp_path):
    model = Bfm2009(toy_params(toy), context(tmp_path))
    assert torch.equal(model.faces, torch.from_numpy(toy.tl - 1)[:, [0, 2, 1]])  # the toy's tl winds inwards
    v = model.mean.double()
    a, b, c = (v[model.faces[:, i]] for i in range(3))
    assert (torch.linalg.cross(b - a, c - a) * (a + b + c)).sum(-1).gt(0).all()


def test_bfm2009_texture_is_the_linearised_bfm_texture(toy, tmp_path):
    model = Bfm2009(toy_params(toy), context(tmp_path))
    assert model.n_albedo == 4 and model.specular_mean is None
    n = model.n_vertices
    mean = model.textures(None, 1).diffuse
    vertex_colour = srgb_to_linear(torch.from_numpy(toy.tex_mu.reshape(1, n, 3) / 255.0).float())
    assert torch.allclose(mean, model.bake(vertex_colour), atol=1e-5)
    # a texel inside a triangle is the barycentric mix of its corners
    texel = int(torch.nonzero(model.texel_mask)[0])
    w, corners = model.texel_weights[texel], model.texel_vertices[texel]
    assert torch.allclose(mean.reshape(-1, 3)[texel], (vertex_colour[0, corners] * w[:, None]).sum(0), atol=1e-6)
    coefficients = torch.tensor([[1.0, 0.0, 0.0, 0.0]], requires_grad=True)
    mixed = model.textures(coefficients, 1)
    colour = toy.tex_mu + toy.tex_pc[:, 0] * toy.tex_ev[0]
    expected = model.bake(srgb_to_linear(torch.from_numpy(np.clip(colour / 255.0, 0, 1).reshape(1, n, 3)).float()))
    assert torch.allclose(mixed.diffuse, expected, atol=1e-5)
    mixed.diffuse.sum().backward()
    assert coefficients.grad.abs().sum() > 0
    assert torch.allclose(mixed.specular, torch.full_like(mixed.specular, 0.06))


def test_bfm2009_with_albedomm(toy, tmp_path):
    model = Bfm2009(toy_params(toy, albedo=True), context(tmp_path))
    n = model.n_vertices
    tex = model.textures(torch.tensor([[0.0, 1.0, 0.0, 0.0]]), 1)
    diffuse = toy.albedo["diffuse_mean"] + toy.albedo["diffuse_basis"][:, 1] * np.sqrt(toy.albedo["diffuse_variance"][1])
    specular = toy.albedo["specular_mean"] + toy.albedo["specular_basis"][:, 1] * np.sqrt(toy.albedo["specular_variance"][1])
    assert torch.allclose(tex.diffuse, model.bake(torch.from_numpy(diffuse.reshape(1, n, 3)).float()), atol=1e-5)
    assert torch.allclose(tex.specular, model.bake(torch.from_numpy(specular.reshape(1, n, 3)).float()), atol=1e-5)
    mean, zero = model.textures(None, 2), model.textures(torch.zeros(2, 4), 2)
    for name in ("diffuse", "specular", "roughness"):
        assert torch.allclose(getattr(mean, name), getattr(zero, name), atol=1e-6), name
    with pytest.raises(FaceReconError, match="n_albedo=6"):
        Bfm2009(toy_params(toy, albedo=True, n_albedo=6), context(tmp_path))


def test_bfm2009_missing_file_says_where_to_get_it(toy, tmp_path):
    with pytest.raises(ModelFileMissing) as caught:
        Bfm2009(toy_params(toy, path=str(tmp_path / "01_MorphableModel.mat")), context(tmp_path))
    message = str(caught.value)
    assert isinstance(caught.value, FileNotFoundError) and isinstance(caught.value, FaceReconError)
    assert "01_MorphableModel.mat" in message and "morphableModel2009" in message
    assert "https://faces.dmi.unibas.ch/bfm/" in message and "non-commercial" in message
    with pytest.raises(ModelFileMissing, match="Exp_Pca.bin.*Deep3DFaceRecon"):
        Bfm2009(toy_params(toy, expression_path="nowhere/Exp_Pca.bin"), context(tmp_path))


def test_bfm2009_default_paths_point_at_the_model_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelFileMissing, match="BFM2009 model file 'morphableModel2009/01_MorphableModel.mat'"):
        if (Path(__file__).resolve().parents[2] / Bfm2009Params().path).exists():
            pytest.skip("a real BFM2009 file is installed")
        Bfm2009(Bfm2009Params(), context(tmp_path))


def test_bfm2009_rejects_inconsistent_files(toy, tmp_path):
    wrong_std = tmp_path / "std_exp.txt"
    np.savetxt(wrong_std, [1.0, 2.0])
    with pytest.raises(ModelFileInvalid, match="2 values for 3 expression components"):
        Bfm2009(toy_params(toy, std_exp_path=str(wrong_std)), context(tmp_path))
    with pytest.raises(FaceReconError, match="n_identity=7"):
        Bfm2009(toy_params(toy, n_identity=7), context(tmp_path))


def test_bfm2009_cache(toy, tmp_path):
    first = Bfm2009(toy_params(toy), context(tmp_path))
    second = Bfm2009(toy_params(toy), context(tmp_path))
    assert not first.cache_hit and second.cache_hit
    assert torch.equal(first.identity_basis, second.identity_basis) and torch.equal(first.faces, second.faces)
    stat = toy.files["std_exp_path"].stat()
    os.utime(toy.files["std_exp_path"], ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert not Bfm2009(toy_params(toy), context(tmp_path)).cache_hit, "an edited input file rebuilds the entry"


def test_landmarks_map_through_trim_index():
    keypoints = np.load(locate_arrays() / "keypoints_sim.npy")
    trim = np.arange(53215) * 2 + 7  # any layout: landmark i goes to trim[keypoint vertex]
    mapped = map_landmarks(keypoints, trim)
    assert np.array_equal(mapped, trim[keypoints[::3] // 3])
    with pytest.raises(FaceReconError, match="landmarks_path"):
        map_landmarks(keypoints, trim[:1000])


def test_unwrap_is_centred_on_the_front():
    points = np.array([[0.0, 0.0, 100.0], [100.0, 0.0, 0.0], [0.0, 50.0, 50.0], [-100.0, 0.0, 0.0]])
    theta, m = unwrap(points).T
    assert np.allclose(theta, [0.0, np.pi / 2, 0.0, -np.pi / 2])
    assert np.allclose(m, [0.0, 0.0, np.arcsinh(1.0), 0.0])
