"""The ``rasterizer`` renderer: coverage, interpolation, visibility, texturing, shading, gradients."""
from __future__ import annotations

import math

import pytest
import torch

from facerecon.geometry import vertex_normals
from facerecon.interfaces import BuildContext, Camera, Mesh, Scene, Textures
from facerecon.registry import Registry
from plugins import renderers as renderers_plugin
from plugins.lighting import SHParams
from plugins.lighting.sh import SHLighting
from plugins.reflectance import CookTorranceParams, LambertianParams
from plugins.reflectance.cook_torrance import CookTorrance
from plugins.reflectance.lambertian import Lambertian
from plugins.renderers import RasterizerParams
from plugins.renderers.rasterizer import Rasterizer

CONTEXT = BuildContext(torch.device("cpu"), None, build=None)
SIZE, FOCAL = 32, 100.0
SH = SHLighting(SHParams(), CONTEXT)
LAMBERT = Lambertian(LambertianParams(), CONTEXT)
COOK = CookTorrance(CookTorranceParams(), CONTEXT)


def rasterizer(**params) -> Rasterizer:
    return Rasterizer(RasterizerParams(**params), CONTEXT)


def to_camera(pixels: torch.Tensor, depth: torch.Tensor | float) -> torch.Tensor:
    """Camera-frame points (N, 3) that project to ``pixels`` (N, 2) at ``depth`` (SIZE², FOCAL)."""
    depth = torch.as_tensor(depth, dtype=torch.float32).expand(pixels.shape[0])
    xy = (pixels - SIZE / 2) / FOCAL * depth[:, None]
    return torch.cat([xy, depth[:, None]], dim=1)


def flat_textures(colour=(0.5, 0.5, 0.5), size: int = 4, batch: int = 1) -> Textures:
    return Textures(
        torch.tensor(colour).expand(batch, size, size, 3).contiguous(),
        torch.full((batch, size, size, 3), 0.04),
        torch.full((batch, size, size, 1), 0.4),
    )


def scene(vertices, faces, uvs, textures=None, light=None, reflectance=LAMBERT, focal=FOCAL, size=SIZE) -> Scene:
    vertices = vertices if vertices.dim() == 3 else vertices[None]
    batch = vertices.shape[0]
    return Scene(
        mesh=Mesh(vertices, faces, uvs, vertex_normals(vertices, faces)),
        camera=Camera(torch.as_tensor(focal, dtype=torch.float32).reshape(-1).expand(batch), size, size),
        textures=textures or flat_textures(batch=batch),
        light=SH.initial(batch) if light is None else light,
        lighting=SH,
        reflectance=reflectance,
    )


def quad(x0, y0, x1, y1, depth=100.0):
    """A rectangle covering pixel coordinates [x0, x1] × [y0, y1], facing the camera; uv (0, 1) at the top left."""
    corners = torch.tensor([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    uvs = torch.tensor([[0.0, 1.0], [1.0, 1.0], [1.0, 0.0], [0.0, 0.0]])
    return to_camera(corners, depth), torch.tensor([[0, 2, 1], [0, 3, 2]]), uvs


def uv_sphere(n_lat: int, n_lon: int, radius: float, centre) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A UV sphere with outward counter-clockwise triangles."""
    lat = torch.linspace(0, math.pi, n_lat + 1)
    lon = torch.linspace(0, 2 * math.pi, n_lon + 1)
    lat, lon = torch.meshgrid(lat, lon, indexing="ij")
    unit = torch.stack([lat.sin() * lon.cos(), lat.cos(), -lat.sin() * lon.sin()], -1).reshape(-1, 3)
    uvs = torch.stack([lon / (2 * math.pi), 1 - lat / math.pi], -1).reshape(-1, 2)
    i, j = torch.meshgrid(torch.arange(n_lat), torch.arange(n_lon), indexing="ij")
    a = (i * (n_lon + 1) + j).flatten()
    b, c = a + n_lon + 1, a + 1
    faces = torch.cat([torch.stack([a, b, c], 1), torch.stack([c, b, b + 1], 1)])
    return unit * radius + torch.tensor(centre), faces, uvs


def test_registered():
    registry = Registry()
    renderers_plugin.facerecon_register_components(registry)
    spec = registry.get("renderer", "rasterizer")
    params = spec.params()
    assert spec.load() is Rasterizer
    assert params.cull_backfaces is True and params.background == (0.0, 0.0, 0.0)


def test_quad_exact_coverage_and_barycentrics():
    """Pixel centres inside [10.2, 19.7] × [5.3, 14.6] are covered, uv and depth are exact."""
    vertices, faces, uvs = quad(10.2, 5.3, 19.7, 14.6)
    out = rasterizer(antialias=False).render(scene(vertices, faces, uvs, flat_textures((0.2, 0.4, 0.6))))
    ys, xs = torch.meshgrid(torch.arange(SIZE) + 0.5, torch.arange(SIZE) + 0.5, indexing="ij")
    inside = (xs >= 10.2) & (xs <= 19.7) & (ys >= 5.3) & (ys <= 14.6)
    assert torch.equal(out.mask[0] > 0, inside) and torch.equal(out.triangle_id[0] >= 0, inside)
    assert set(out.triangle_id[0][inside].tolist()) == {0, 1}
    expected_uv = torch.stack([(xs - 10.2) / 9.5, 1 - (ys - 5.3) / 9.3], -1)
    assert torch.allclose(out.uv[0][inside], expected_uv[inside], atol=1e-5)
    assert torch.allclose(out.depth[0][inside], torch.tensor(100.0))
    assert (out.depth[0][~inside] == 0).all() and (out.image[0][~inside] == 0).all()
    # Uniform radiance 1 (the initial light) on a Lambertian surface renders its albedo.
    assert torch.allclose(out.image[0][inside], torch.tensor([0.2, 0.4, 0.6]).expand(int(inside.sum()), 3), atol=1e-5)
    assert torch.allclose(out.extras["diffuse_albedo"][0][inside], torch.tensor([0.2, 0.4, 0.6]), atol=1e-6)
    assert torch.allclose(out.normals[0][inside].abs(), torch.tensor([0.0, 0.0, 1.0]))


def test_perspective_correct_interpolation():
    """On a slanted plane, uv and depth equal the ray–plane intersection at every pixel centre."""
    origin = torch.tensor([-30.0, -25.0, 80.0])
    axis_u, axis_v = torch.tensor([60.0, 0.0, 60.0]), torch.tensor([0.0, 50.0, 20.0])
    vertices = torch.stack([origin, origin + axis_u, origin + axis_u + axis_v, origin + axis_v])
    uvs = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    faces = torch.tensor([[0, 2, 1], [0, 3, 2]])
    out = rasterizer(antialias=False).render(scene(vertices, faces, uvs))
    covered = out.mask[0] > 0
    assert covered.sum() > 200
    ys, xs = torch.meshgrid(torch.arange(SIZE) + 0.5, torch.arange(SIZE) + 0.5, indexing="ij")
    rays = torch.stack([(xs - SIZE / 2) / FOCAL, (ys - SIZE / 2) / FOCAL, torch.ones_like(xs)], -1)[covered]
    normal = torch.cross(axis_u, axis_v, dim=0)
    hit = rays * ((origin @ normal) / (rays @ normal))[:, None]
    # Solve hit - origin = u·axis_u + v·axis_v in the least-squares sense.
    basis = torch.stack([axis_u, axis_v], 1)
    expected_uv = torch.linalg.lstsq(basis.expand(hit.shape[0], 3, 2), (hit - origin)[..., None]).solution[..., 0]
    assert torch.allclose(out.uv[0][covered], expected_uv, atol=2e-5)
    assert torch.allclose(out.depth[0][covered], hit[:, 2], rtol=1e-5)


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_depth_ordering(order):
    """Where two triangles overlap, the nearer one is seen whatever their order in the mesh."""
    near = to_camera(torch.tensor([[4.0, 4.0], [24.0, 4.0], [4.0, 24.0]]), 100.0)
    far = to_camera(torch.tensor([[8.0, 8.0], [28.0, 8.0], [8.0, 28.0]]), 200.0)
    vertices = torch.cat([near, far])
    triangles = [torch.tensor([0, 2, 1]), torch.tensor([3, 5, 4])]  # facing the camera
    faces = torch.stack([triangles[i] for i in order])
    # u = 0 on the near triangle, 1 on the far one: a two-texel map colours them red and blue.
    uvs = torch.tensor([[0.0, 0.5]] * 3 + [[1.0, 0.5]] * 3)
    texture = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]).expand(1, 2, 2, 3).contiguous()
    textures = Textures(texture, torch.zeros(1, 2, 2, 3), torch.ones(1, 2, 2, 1))
    out = rasterizer(antialias=False).render(scene(vertices, faces, uvs, textures))
    near_index = order.index(0)
    overlap = (slice(None), slice(9, 14), slice(9, 14))
    assert (out.triangle_id[overlap] == near_index).all()
    assert torch.allclose(out.depth[overlap], torch.tensor(100.0))
    assert (out.image[0, 9:14, 9:14, 0] > 0.99).all() and (out.image[0, 9:14, 9:14, 2] < 0.01).all()
    assert (out.image[0, 26, 9, 2] > 0.99) and (out.triangle_id[0, 26, 9] == 1 - near_index)


def test_lambert_sphere_matches_analytic_shading():
    """A Lambertian sphere under a random SH light renders ρ·E(n)/π of its analytic normals."""
    vertices, faces, uvs = uv_sphere(48, 96, 40.0, (3.0, -2.0, 300.0))
    gen = torch.Generator().manual_seed(0)
    light = SH.initial(1) + 0.3 * torch.randn(1, 9, 3, generator=gen)
    albedo = (0.7, 0.5, 0.3)
    out = rasterizer().render(scene(vertices, faces, uvs, flat_textures(albedo), light=light, focal=200.0))
    inner = torch.nn.functional.max_pool2d(1 - out.mask[None], 3, 1, 1)[0, 0] == 0
    assert inner.sum() > 300
    ys, xs = torch.meshgrid(torch.arange(SIZE) + 0.5, torch.arange(SIZE) + 0.5, indexing="ij")
    rays = torch.nn.functional.normalize(
        torch.stack([(xs - SIZE / 2) / 200.0, (ys - SIZE / 2) / 200.0, torch.ones_like(xs)], -1)[inner], dim=-1)
    centre = torch.tensor([3.0, -2.0, 300.0])
    along = rays @ centre
    t = along - (along**2 - centre @ centre + 40.0**2).sqrt()
    normals = torch.nn.functional.normalize(rays * t[:, None] - centre, dim=-1)
    assert torch.allclose(out.normals[0][inner], normals, atol=2e-3)
    assert torch.allclose(out.depth[0][inner], rays[:, 2] * t, atol=0.15)  # chords lie inside the sphere
    expected = torch.tensor(albedo) * SH.irradiance(light, normals[None])[0] / math.pi
    assert (out.image[0][inner] - expected).abs().max() < 2e-3 * expected.abs().max()
    # Against its own interpolated normals the shading is exact.
    own = torch.tensor(albedo) * SH.irradiance(light, out.normals[0][inner][None])[0] / math.pi
    assert torch.allclose(out.image[0][inner], own, atol=1e-5)


def test_checkerboard_texture_orientation():
    """Texel row 0 is the top of the map (v = 1): it lands at the top of an upright textured quad."""
    # Texel centres of the 4×4 map land on the centres of pixels 2, 10, 18, 26 (exact lookups).
    vertices, faces, uvs = quad(-1.5, -1.5, 30.5, 30.5)
    cells = (torch.arange(4)[:, None] + torch.arange(4)[None]) % 2
    texture = torch.where(cells[..., None].bool(), torch.tensor([0.9, 0.9, 0.9]), torch.tensor([0.1, 0.1, 0.1]))
    texture[0, 0] = torch.tensor([1.0, 0.0, 0.0])  # top-left texel: red
    texture = texture[None].contiguous()
    textures = Textures(texture, torch.zeros(1, 4, 4, 3), torch.ones(1, 4, 4, 1))
    out = rasterizer(antialias=False).render(scene(vertices, faces, uvs, textures))
    image = out.image[0]
    assert torch.allclose(image[2::8, 2::8], texture[0], atol=1e-5)
    assert torch.allclose(image[2, 2], torch.tensor([1.0, 0.0, 0.0]), atol=1e-5)  # red at the top left
    assert image[27, 27, 0] < 0.2  # dark at the bottom right
    assert 0.1 < image[6, 2, 1] < 0.9  # bilinear blend between texels


def test_batch_equals_singles():
    vertices, faces, uvs = uv_sphere(12, 24, 30.0, (0.0, 0.0, 250.0))
    batch_vertices = torch.stack([vertices, vertices + torch.tensor([8.0, -5.0, 20.0])])
    gen = torch.Generator().manual_seed(1)
    light = SH.initial(2) + 0.4 * torch.randn(2, 9, 3, generator=gen)
    textures = Textures(torch.rand(2, 8, 8, 3, generator=gen), torch.rand(2, 8, 8, 3, generator=gen) * 0.2,
                        torch.rand(2, 8, 8, 1, generator=gen) * 0.5 + 0.2)
    focal = torch.tensor([90.0, 110.0])
    renderer = rasterizer()
    both = renderer.render(scene(batch_vertices, faces, uvs, textures, light, COOK, focal=focal))
    for b in range(2):
        single_textures = Textures(textures.diffuse[b:b + 1], textures.specular[b:b + 1], textures.roughness[b:b + 1])
        one = renderer.render(scene(batch_vertices[b:b + 1], faces, uvs, single_textures, light[b:b + 1], COOK,
                                    focal=focal[b:b + 1]))
        for name in ("image", "mask", "depth", "normals", "uv"):
            assert torch.allclose(getattr(both, name)[b], getattr(one, name)[0], atol=1e-5), name
        assert torch.equal(both.triangle_id[b], one.triangle_id[0])
        assert torch.allclose(both.extras["specular_shading"][b], one.extras["specular_shading"][0], atol=1e-6)
    assert (both.extras["specular_shading"] > 0).any()


@pytest.mark.parametrize("reflectance", [LAMBERT, COOK], ids=["lambertian", "cook-torrance"])
def test_gradients_match_finite_differences(reflectance):
    """Autograd vs central differences of image and (ramp-weighted) mask.

    Exact for the light (linear); within 15 % for translations and focal, whose gradient comes
    mostly from the antialiased silhouette (steps of ~1 px, so pixel-crossing jumps average out).
    """
    vertices, faces, uvs = uv_sphere(16, 32, 30.0, (0.0, 0.0, 250.0))
    gen = torch.Generator().manual_seed(2)
    weights = torch.rand(1, SIZE, SIZE, 3, generator=gen)
    ramp = (torch.arange(SIZE) / SIZE)[None, None, :] + 0.5 * (torch.arange(SIZE) / SIZE)[None, :, None]
    renderer = rasterizer()

    def loss(translation, focal, light):
        out = renderer.render(scene(vertices + translation, faces, uvs, light=light, reflectance=reflectance,
                                    focal=focal))
        return (out.image * weights).sum() + 5.0 * (out.mask * ramp).sum()

    light = (SH.initial(1) + 0.3 * torch.randn(1, 9, 3, generator=gen)).requires_grad_()
    translation = torch.zeros(1, 1, 3, requires_grad=True)
    focal = torch.tensor([100.0], requires_grad=True)
    loss(translation, focal, light).backward()

    def central(bump, step):
        with torch.no_grad():
            return float((loss(*bump(step)) - loss(*bump(-step))) / (2 * step))

    def light_bump(h):
        delta = torch.zeros_like(light)
        delta[0, 2, 1] = h
        return translation.detach(), focal.detach(), light.detach() + delta

    assert central(light_bump, 0.05) == pytest.approx(float(light.grad[0, 2, 1]), rel=1e-3)
    for axis, step in ((0, 0.3), (1, 0.3), (2, 3.0)):
        def move(h, axis=axis):
            delta = torch.zeros(1, 1, 3)
            delta[0, 0, axis] = h
            return delta, focal.detach(), light.detach()

        assert float(translation.grad[0, 0, axis]) == pytest.approx(central(move, step), rel=0.15), axis
    fd = central(lambda h: (translation.detach(), focal.detach() + h, light.detach()), 2.0)
    assert float(focal.grad) == pytest.approx(fd, rel=0.15)


def test_antialiased_mask_measures_area_and_moves_edges():
    """Soft coverage of an axis-aligned rectangle sums to its area; d(area)/d(edge) = edge length."""
    vertices, faces, uvs = quad(10.3, 5.2, 19.6, 14.7)
    vertices = vertices.clone().requires_grad_()
    out = rasterizer().render(scene(vertices, faces, uvs))
    area = 9.3 * 9.5
    assert abs(out.mask.sum().item() - area) < 0.5
    assert out.mask.max() <= 1.0 and out.mask.min() >= 0.0
    assert out.mask[0, 10, 10].item() == pytest.approx(0.7, abs=1e-5)  # pixel [10, 11) covered from 10.3
    out.mask.sum().backward()
    # Camera x per pixel = depth/focal = 1: moving an edge by 1 px adds one unit per pixel row
    # (column) whose centre line it crosses: 10 rows for the 9.5 px sides, 10 columns for 9.3 px.
    grad = vertices.grad
    assert float(grad[1, 0] + grad[2, 0]) == pytest.approx(10.0, abs=1e-4)
    assert float(grad[0, 0] + grad[3, 0]) == pytest.approx(-10.0, abs=1e-4)
    assert float(grad[2, 1] + grad[3, 1]) == pytest.approx(10.0, abs=1e-4)
    assert float(grad[0, 1] + grad[1, 1]) == pytest.approx(-10.0, abs=1e-4)


def test_background_and_no_antialias_mask_is_hard():
    vertices, faces, uvs = quad(10.3, 5.2, 19.6, 14.7)
    out = rasterizer(antialias=False, background=(0.1, 0.2, 0.3)).render(scene(vertices, faces, uvs))
    assert set(out.mask.unique().tolist()) == {0.0, 1.0}
    assert torch.allclose(out.image[0, 0, 0], torch.tensor([0.1, 0.2, 0.3]))


def test_cull_backfaces():
    vertices, faces, uvs = quad(4.3, 4.2, 20.6, 20.7)
    flipped = faces[:, [0, 2, 1]]
    for tris, faces_camera in ((faces, True), (flipped, False)):
        # The quad's normal points along -z (towards the camera) with ``faces``.
        culled = rasterizer(cull_backfaces=True).render(scene(vertices, tris, uvs))
        kept = rasterizer(cull_backfaces=False).render(scene(vertices, tris, uvs))
        assert kept.mask.sum() > 200
        assert (culled.mask.sum() > 200) == faces_camera


def test_large_triangles_in_small_chunks():
    """Correctness does not depend on triangle size: tiny chunks give the same image as one pass."""
    big_v, big_f, big_uv = quad(-5.0, -5.0, 40.0, 40.0, depth=200.0)
    small_v, small_f, small_uv = uv_sphere(8, 16, 20.0, (0.0, 0.0, 150.0))
    vertices = torch.cat([big_v, small_v])
    faces = torch.cat([big_f, small_f + big_v.shape[0]])
    uvs = torch.cat([big_uv, small_uv])
    one = rasterizer().render(scene(vertices, faces, uvs))
    chunked = rasterizer(chunk_size=100).render(scene(vertices, faces, uvs))
    assert one.mask.min() == 1.0
    assert torch.equal(one.triangle_id, chunked.triangle_id) and torch.allclose(one.image, chunked.image)
    assert (one.triangle_id[0, 16, 16] >= 2) and (one.triangle_id[0, 0, 0] < 2)


def test_empty_view_renders_background():
    vertices, faces, uvs = quad(40.0, 40.0, 50.0, 50.0)
    vertices = vertices.clone().requires_grad_()
    out = rasterizer(background=(0.5, 0.5, 0.5)).render(scene(vertices, faces, uvs))
    assert (out.mask == 0).all() and (out.triangle_id == -1).all() and torch.allclose(out.image, torch.tensor(0.5))
    out.image.sum().backward()
    assert vertices.grad is None or (vertices.grad == 0).all()


def test_batch_with_an_empty_item_has_finite_gradients():
    vertices, faces, uvs = uv_sphere(12, 24, 30.0, (0.0, 0.0, 250.0))
    batch_vertices = torch.stack([vertices, vertices + torch.tensor([0.0, 0.0, -400.0])]).requires_grad_()
    light = SH.initial(2).requires_grad_()
    out = rasterizer().render(scene(batch_vertices, faces, uvs, light=light, reflectance=COOK))
    assert out.mask[0].sum() > 100 and out.mask[1].sum() == 0
    (out.image.sum() + out.mask.sum()).backward()
    assert torch.isfinite(batch_vertices.grad).all() and batch_vertices.grad[0].abs().sum() > 0
    assert (batch_vertices.grad[1] == 0).all() and torch.isfinite(light.grad).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    vertices, faces, uvs = uv_sphere(12, 24, 30.0, (0.0, 0.0, 250.0))
    cpu = rasterizer().render(scene(vertices, faces, uvs, reflectance=COOK))
    cuda_context = BuildContext(torch.device("cuda"), None, build=None)
    sh = SHLighting(SHParams(), cuda_context)
    textures = flat_textures()
    gpu_scene = Scene(
        mesh=Mesh(vertices[None].cuda(), faces.cuda(), uvs.cuda(), vertex_normals(vertices[None], faces).cuda()),
        camera=Camera(torch.tensor([FOCAL], device="cuda"), SIZE, SIZE),
        textures=Textures(*(t.cuda() for t in (textures.diffuse, textures.specular, textures.roughness))),
        light=sh.initial(1), lighting=sh, reflectance=CookTorrance(CookTorranceParams(), cuda_context),
    )
    gpu = Rasterizer(RasterizerParams(), cuda_context).render(gpu_scene)
    assert torch.equal(gpu.triangle_id.cpu(), cpu.triangle_id)
    assert torch.allclose(gpu.image.cpu(), cpu.image, atol=1e-4)
