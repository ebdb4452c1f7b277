"""Contract suites of the image-formation kinds: lighting, reflectance, renderer."""
from __future__ import annotations

import math

import pytest
import torch

from ..interfaces import RenderOutput
from . import scenes
from ._base import ComponentContract, check_tensor

__all__ = ["LightingContract", "ReflectanceContract", "RendererContract"]


def _perturbed(light: torch.Tensor, scale: float = 0.3, seed: int = 0) -> torch.Tensor:
    """``light`` plus a reproducible random perturbation (a light that varies with direction)."""
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(light.shape, generator=gen).to(light.device, light.dtype)
    return light + scale * noise * light.abs().max().clamp(min=1e-3)


def _is_constant(lighting, light: torch.Tensor) -> bool:
    dirs = scenes.fibonacci_directions(256, light.device).expand(light.shape[0], -1, -1)
    radiance = lighting.radiance(light, dirs)
    return bool((radiance.std(dim=1) <= 1e-4 * radiance.abs().mean().clamp(min=1e-6)).all())


class LightingContract(ComponentContract):
    """Distant lighting: shapes, a non-negative ambient start, and E(n) = ∫ L(ω) max(n·ω, 0) dω.

    Provide ``component`` (the built lighting).
    """

    kind = "lighting"
    #: Tolerance of the irradiance quadrature check, relative to the largest |E|.
    irradiance_rtol = 0.02
    #: Tolerance of the environment-map layout check (row 0 looks up, the centre looks along +z),
    #: relative to the spread (std) of the radiance over the sphere; raise it for a lighting whose
    #: map is smoothed or coarsely tabulated.
    environment_map_rtol = 0.1

    def test_initial(self, component):
        light = component.initial(2)
        check_tensor(light, "initial(2)", (2, component.n_coeffs, 3), torch.float32, component.device)

    def test_radiance_and_irradiance_shapes(self, component):
        light = component.initial(2)
        dirs = scenes.fibonacci_directions(50, component.device).expand(2, -1, -1)
        check_tensor(component.radiance(light, dirs), "radiance", (2, 50, 3), torch.float32, component.device)
        check_tensor(component.irradiance(light, dirs), "irradiance", (2, 50, 3), torch.float32, component.device)

    def test_initial_light_is_non_negative(self, component):
        """The initial (ambient-like) light gives positive irradiance and radiance everywhere."""
        light = component.initial(1)
        dirs = scenes.fibonacci_directions(500, component.device)[None]
        assert (component.radiance(light, dirs) >= -1e-6).all(), "initial radiance is negative somewhere"
        assert (component.irradiance(light, dirs) > 0).all(), "initial irradiance should be > 0 for every normal"
        assert (component.environment_map(light, 8, 16) >= -1e-6).all(), "initial environment map is negative"

    def test_irradiance_is_cosine_integral_of_radiance(self, component):
        """irradiance(n) matches a quadrature of radiance(ω)·max(n·ω, 0) over the sphere."""
        light = _perturbed(component.initial(1))
        omega = scenes.fibonacci_directions(20000, component.device)[None]
        normals = scenes.fibonacci_directions(12, component.device)[None]
        radiance = component.radiance(light, omega)  # (1, M, 3)
        cosine = (normals[0] @ omega[0].T).clamp(min=0)  # (12, M)
        expected = (cosine @ radiance[0]) * (4 * math.pi / omega.shape[1])
        actual = component.irradiance(light, normals)[0]
        scale = expected.abs().max()
        assert (actual - expected).abs().max() <= self.irradiance_rtol * scale, (
            f"irradiance differs from the integral of radiance: max error {(actual - expected).abs().max():.4g} "
            f"for |E| up to {scale:.4g}"
        )

    def test_environment_map_layout(self, component):
        """Row 0 looks up (−y in the camera frame); the map centre looks along +z."""
        light = _perturbed(component.initial(1), seed=1)
        height, width = 32, 64
        env = component.environment_map(light, height, width)
        check_tensor(env, "environment_map", (1, height, width, 3), torch.float32, component.device)
        probes = torch.tensor([[[0.0, -1.0, 0.0], [0.0, 0.0, 1.0]]], device=component.device)
        up, front = component.radiance(light, probes)[0]
        centre = env[0, height // 2 - 1: height // 2 + 1, width // 2 - 1: width // 2 + 1].mean((0, 1))
        spread = component.radiance(light, scenes.fibonacci_directions(2000, component.device)[None]).std()
        tolerance = self.environment_map_rtol * spread + 1e-4
        assert (env[0, 0].mean(0) - up).abs().max() <= tolerance, "row 0 of the environment map should look up (-y)"
        assert (centre - front).abs().max() <= tolerance, "the environment map centre should look along +z"

    def test_differentiable_in_light(self, component):
        light = component.initial(1).clone().requires_grad_()
        normals = scenes.fibonacci_directions(20, component.device)[None]
        component.irradiance(light, normals).sum().backward()
        assert light.grad is not None and torch.isfinite(light.grad).all() and light.grad.abs().sum() > 0


class ReflectanceContract(ComponentContract):
    """BRDFs: non-negative, zero below the horizon, shade() = diffuse + specular = ∫ L·f·cos.

    Provide ``component``; ``lighting`` defaults to the built-in ``sh``.
    """

    kind = "reflectance"
    #: Tolerance of shade() against a quadrature of evaluate(), relative to the mean radiance.
    shade_rtol = 0.05

    @pytest.fixture
    def lighting(self, component):
        """The lighting used by shade() tests: the built-in ``sh`` on the component's device."""
        from ..api import build

        return build("lighting", "sh", device=component.device)

    def test_names_its_brdf(self, component):
        """``brdf`` names the mathematical BRDF, so path tracers can recognise it."""
        assert isinstance(component.brdf, str) and component.brdf, "set the class attribute `brdf`"

    @staticmethod
    def _surface(n: int, device, seed: int = 0) -> dict[str, torch.Tensor]:
        gen = torch.Generator().manual_seed(seed)
        normal = torch.nn.functional.normalize(torch.randn(n, 3, generator=gen), dim=-1)
        def hemisphere(sign: float) -> torch.Tensor:
            d = torch.nn.functional.normalize(torch.randn(n, 3, generator=gen), dim=-1)
            flip = ((d * normal).sum(-1, keepdim=True) * sign < 0).float()
            return d * (1 - 2 * flip)
        values = {
            "normal": normal, "wi": hemisphere(1.0), "wo": hemisphere(1.0), "below": hemisphere(-1.0),
            "diffuse": torch.rand(n, 3, generator=gen) * 0.9 + 0.05,
            "specular": torch.rand(n, 3, generator=gen) * 0.1 + 0.01,
            "roughness": torch.rand(n, 1, generator=gen) * 0.6 + 0.2,
        }
        return {k: v.to(device) for k, v in values.items()}

    def test_evaluate_shape_and_sign(self, component):
        s = self._surface(64, component.device)
        value = component.evaluate(s["normal"], s["wi"], s["wo"], s["diffuse"], s["specular"], s["roughness"])
        check_tensor(value, "evaluate", (64, 3), torch.float32, component.device)
        assert (value >= 0).all(), "evaluate() must be non-negative"
        assert (value > 0).any(), "evaluate() is zero everywhere above the horizon"

    def test_evaluate_broadcasts_batches(self, component):
        s = self._surface(12, component.device)
        batched = {k: v.reshape(3, 4, -1) for k, v in s.items()}
        value = component.evaluate(*(batched[k] for k in ("normal", "wi", "wo", "diffuse", "specular", "roughness")))
        flat = component.evaluate(*(s[k] for k in ("normal", "wi", "wo", "diffuse", "specular", "roughness")))
        check_tensor(value, "evaluate (3, 4, ...)", (3, 4, 3))
        assert torch.allclose(value.reshape(12, 3), flat, rtol=1e-5, atol=1e-6)

    def test_zero_below_horizon(self, component):
        s = self._surface(64, component.device)
        value = component.evaluate(s["normal"], s["below"], s["wo"], s["diffuse"], s["specular"], s["roughness"])
        assert (value == 0).all(), "evaluate() must be 0 for light arriving from below the surface (n·wi < 0)"

    def test_shade_outputs(self, component, lighting):
        s = {k: v[None] for k, v in self._surface(40, component.device).items()}
        out = component.shade(lighting, lighting.initial(1), s["normal"], s["wo"], s["diffuse"], s["specular"], s["roughness"])
        assert {"radiance", "diffuse", "specular"} <= set(out), f"shade() returned keys {sorted(out)}"
        for key in ("radiance", "diffuse", "specular"):
            check_tensor(out[key], f"shade()[{key!r}]", (1, 40, 3), torch.float32, component.device)
            assert (out[key] >= -1e-6).all(), f"shade()[{key!r}] is negative under a positive ambient light"
        assert torch.allclose(out["radiance"], out["diffuse"] + out["specular"], rtol=1e-4, atol=1e-6)

    def test_shade_matches_evaluate_integral(self, component, lighting):
        """shade() under the initial light equals ∫ L(wi)·evaluate(wi, wo) dwi (no visibility)."""
        s = self._surface(8, component.device, seed=3)
        light = lighting.initial(1)
        omega = scenes.fibonacci_directions(20000, component.device)  # (M, 3)
        radiance = lighting.radiance(light, omega[None])  # (1, M, 3)
        m = omega.shape[0]
        f = component.evaluate(*(s[k][:, None].expand(-1, m, -1) if k != "wi" else omega.expand(8, -1, -1)
                                 for k in ("normal", "wi", "wo", "diffuse", "specular", "roughness")))
        expected_t = (f * radiance).sum(1) * (4 * math.pi / m)  # (8, 3)
        out = component.shade(lighting, light, s["normal"][None], s["wo"][None], s["diffuse"][None],
                              s["specular"][None], s["roughness"][None])["radiance"][0]
        error = (out - expected_t).abs().max()
        assert error <= self.shade_rtol * expected_t.mean(), (
            f"shade() differs from the integral of evaluate(): max error {error:.4g}, mean radiance {expected_t.mean():.4g}"
        )

    def test_differentiable_in_albedo(self, component):
        s = self._surface(16, component.device)
        leaves = {k: s[k].clone().requires_grad_() for k in ("diffuse", "specular", "roughness")}
        value = component.evaluate(s["normal"], s["wi"], s["wo"], leaves["diffuse"], leaves["specular"], leaves["roughness"])
        value.sum().backward()
        assert leaves["diffuse"].grad is not None and leaves["diffuse"].grad.abs().sum() > 0, "no gradient w.r.t. diffuse"
        for name, leaf in leaves.items():
            assert leaf.grad is None or torch.isfinite(leaf.grad).all(), f"non-finite gradient w.r.t. {name}"


class RendererContract(ComponentContract):
    """Renderers: output layout, coverage and depth of a known sphere, a white furnace, gradients.

    Provide ``component``; ``lighting`` and ``reflectance`` default to the built-in ``sh`` and
    ``lambertian`` (override them to test with others). The test scene is
    :func:`facerecon.testing.scenes.sphere_scene`: a sphere of radius 80 mm at 500 mm.
    """

    kind = "renderer"
    #: Scene inputs the render must be differentiable with respect to.
    differentiable: tuple[str, ...] = ("vertices", "light", "diffuse")
    #: Largest mean absolute difference between renders that should be equal (noise of stochastic renderers).
    noise_tolerance = 1e-4
    #: Relative tolerance of the white-furnace test (a lambertian sphere under uniform light renders ρ·L).
    furnace_rtol = 0.02
    image_size = 48

    @pytest.fixture
    def lighting(self, component):
        """The built-in ``sh`` lighting on the component's device."""
        from ..api import build

        return build("lighting", "sh", device=component.device)

    @pytest.fixture
    def reflectance(self, component):
        """The built-in ``lambertian`` reflectance on the component's device."""
        from ..api import build

        return build("reflectance", "lambertian", device=component.device)

    @pytest.fixture
    def output(self, component, lighting, reflectance) -> RenderOutput:
        """A render of a batch of 2 spheres."""
        scene = scenes.sphere_scene(lighting, reflectance, batch=2, image_size=self.image_size, device=component.device)
        with torch.no_grad():
            return component.render(scene)

    def test_output_layout(self, component, output):
        assert isinstance(output, RenderOutput), f"render() should return RenderOutput, got {type(output).__name__}"
        b, s, dev = 2, self.image_size, component.device
        check_tensor(output.image, "image", (b, s, s, 3), torch.float32, dev)
        check_tensor(output.mask, "mask", (b, s, s), torch.float32, dev)
        check_tensor(output.depth, "depth", (b, s, s), torch.float32, dev)
        check_tensor(output.normals, "normals", (b, s, s, 3), torch.float32, dev)
        check_tensor(output.uv, "uv", (b, s, s, 2), torch.float32, dev)
        check_tensor(output.triangle_id, "triangle_id", (b, s, s), torch.long, dev)
        for key, value in output.extras.items():
            check_tensor(value, f"extras[{key!r}]", device=dev)
            assert tuple(value.shape[:3]) == (b, s, s), f"extras[{key!r}] should be (B, H, W, C)"

    def test_non_square_image(self, component, lighting, reflectance):
        scene = scenes.sphere_scene(lighting, reflectance, batch=1, image_size=32, width=48, device=component.device)
        with torch.no_grad():
            out = component.render(scene)
        check_tensor(out.image, "image", (1, 32, 48, 3))
        check_tensor(out.mask, "mask", (1, 32, 48))
        mask = out.mask[0] > 0.5
        cols, rows = mask.any(0).nonzero()[:, 0].float(), mask.any(1).nonzero()[:, 0].float()
        assert abs((cols.min() + cols.max() + 1) / 2 - 24) <= 1.5 and abs((rows.min() + rows.max() + 1) / 2 - 16) <= 1.5, (
            "the sphere in front of the camera should be centred in a non-square image"
        )

    def test_sphere_coverage_depth_normals_uv(self, output):
        """The sphere covers the centre (depth 420 mm, normal towards the camera, uv (0.5, 0.5)); corners are empty."""
        c = self.image_size // 2
        centre = (slice(None), slice(c - 1, c + 1), slice(c - 1, c + 1))
        assert (output.mask[centre] > 0.99).all() and (output.triangle_id[centre] >= 0).all(), "the centre should be covered"
        depth = output.depth[centre].mean().item()
        assert abs(depth - (scenes.INITIAL_TRANSLATION[2] - scenes.SPHERE_RADIUS)) < 2.0, f"depth at the centre {depth:.1f} mm, expected ~420"
        normal = output.normals[centre].mean((1, 2))
        assert torch.allclose(normal, normal.new_tensor([0.0, 0.0, -1.0]).expand_as(normal), atol=0.05), (
            f"the normal facing the camera should be (0, 0, -1) in the camera frame, got {normal.tolist()}"
        )
        uv = output.uv[centre].mean((1, 2))
        assert torch.allclose(uv, uv.new_tensor([0.5, 0.5]).expand_as(uv), atol=0.05), f"uv at the centre {uv.tolist()}"
        corners = (slice(None), [0, 0, -1, -1], [0, -1, 0, -1])
        assert (output.mask[corners] == 0).all() and (output.triangle_id[corners] == -1).all(), "corners should be empty"
        assert (output.image[corners] == 0).all(), "empty pixels should be 0"
        assert (output.image >= 0).all(), "radiance should be non-negative under the initial light"
        radius = (output.mask[0] > 0.5).sum().float().div(math.pi).sqrt().item()
        expected = 1.6 * self.image_size * scenes.SPHERE_RADIUS / math.sqrt(500.0**2 - scenes.SPHERE_RADIUS**2)
        assert abs(radius - expected) < 1.5, f"sphere silhouette radius {radius:.1f} px, expected {expected:.1f}"

    def test_white_furnace(self, output, lighting, reflectance):
        """A lambertian sphere of albedo ρ under uniform radiance L renders ρ·L inside its silhouette."""
        light = lighting.initial(1)
        if not _is_constant(lighting, light):
            pytest.skip("the lighting's initial light is not uniform")
        tex = scenes.constant_textures(1, 1, device=light.device)
        normal = light.new_tensor([[[0.0, 0.0, -1.0]]])
        shaded = reflectance.shade(lighting, light, normal, -normal, tex.diffuse[:, 0], tex.specular[:, 0], tex.roughness[:, 0])
        if (shaded["specular"] > 0).any():
            pytest.skip("the reflectance has a specular term; the furnace test needs a diffuse-only one")
        level = lighting.radiance(light, light.new_tensor([[[0.0, 0.0, 1.0]]]))[0, 0]
        albedo = scenes.constant_textures(1).diffuse[0, 0, 0].to(level)
        mask = output.mask[0]
        inner = (torch.nn.functional.max_pool2d(1 - mask[None, None], 3, 1, 1)[0, 0] == 0)  # 3x3 fully covered
        pixels = output.image[0][inner]
        expected = albedo * level
        error = (pixels.mean(0) - expected).abs().max()
        assert error <= self.furnace_rtol * expected.max(), f"furnace: mean {pixels.mean(0).tolist()}, expected {expected.tolist()}"

    def test_batch_items_independent(self, component, lighting, reflectance, output):
        """Item 0 of a batch renders as it does alone, whatever the other items hold."""
        scene = scenes.sphere_scene(lighting, reflectance, batch=2, image_size=self.image_size, shift=40.0,
                                    device=component.device)
        with torch.no_grad():
            shifted = component.render(scene)
        diff = (shifted.image[0] - output.image[0]).abs().mean()
        assert diff <= self.noise_tolerance, f"batch item 0 changed by {diff:.3g} on average when item 1 moved"
        assert (shifted.mask[1] - shifted.mask[0]).abs().sum() > 1, "batch item 1 was moved but renders like item 0"

    def test_gradients(self, component, lighting, reflectance):
        light = _perturbed(lighting.initial(1), scale=0.5)
        scene = scenes.sphere_scene(lighting, reflectance, batch=1, image_size=32, light=light,
                                    device=component.device, requires_grad=True)
        out = component.render(scene)
        weights = torch.rand(out.image.shape, generator=torch.Generator().manual_seed(0)).to(out.image.device)
        (out.image * weights).sum().backward()
        leaves = {"vertices": scene.mesh.vertices, "light": scene.light, "diffuse": scene.textures.diffuse,
                  "specular": scene.textures.specular, "roughness": scene.textures.roughness}
        for name in self.differentiable:
            grad = leaves[name].grad
            assert grad is not None and grad.abs().sum() > 0, f"the render is not differentiable w.r.t. {name}"
        for name, leaf in leaves.items():
            assert leaf.grad is None or torch.isfinite(leaf.grad).all(), f"non-finite gradient w.r.t. {name}"
