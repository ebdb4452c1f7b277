"""Built-in losses: registration, optimum, direction of the gradient, masks and reductions."""
from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch

import plugins.losses
from facerecon.contour import NOSE_DEPTH, contour_weights, estimated_yaw
from facerecon.interfaces import BuildContext, Loss, LossInputs, RenderOutput, Textures
from facerecon.landmarks import IBUG68_GROUPS, NEXTFACE_DROPPED_JAW
from facerecon.params import field_doc
from facerecon.recipe import Builder, RecipeError
from facerecon.registry import Registry
from plugins.losses.blur import gaussian_blur, gaussian_kernel

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
NAMES = [
    "landmark", "photometric", "gaussian-prior", "sh-prior", "texture-symmetry", "texture-consistency",
    "texture-chromaticity", "texture-smoothness", "texture-range", "shape-truth", "size-prior", "light-truth",
]
T = 8


@pytest.fixture(scope="module")
def registry() -> Registry:
    registry = Registry()
    plugins.losses.facerecon_register_components(registry=registry)
    return registry


class BatchMean:
    """A built loss whose call returns the mean of its per-face values (``raw`` gives them)."""

    def __init__(self, loss: Loss) -> None:
        self.raw = loss

    def __call__(self, inputs: LossInputs) -> torch.Tensor:
        values = self.raw(inputs)
        assert values.dim() == 1, f"a loss returns one value per face, got shape {tuple(values.shape)}"
        return values.mean()


@pytest.fixture(scope="module")
def build(registry):
    """build(name, device="cpu", **params) -> the loss through its registered factory, its
    parameters validated as in a recipe, wrapped in :class:`BatchMean` so values compare as one
    number per batch."""

    def _build(name: str, device: str = "cpu", **params) -> BatchMean:
        builder = Builder(registry, torch.device(device), Path(tempfile.gettempdir()))
        return BatchMean(builder.build_node("loss", {"type": name, **params}))

    return _build


@dataclasses.dataclass
class MirroredUV:
    """A T×T UV layout symmetric about u = 0.5, optionally with a UV face region."""

    texture_size: int
    texel_mask: torch.Tensor | None = None

    def __post_init__(self) -> None:
        t = self.texture_size
        rows, cols = torch.meshgrid(torch.arange(t), torch.arange(t), indexing="ij")
        u = (cols + 0.5) / t
        mirrored_cols = torch.round((1.0 - u) * t - 0.5).long()
        self.texel_symmetry = (rows * t + mirrored_cols).reshape(-1)


def render_output(image: torch.Tensor, mask: torch.Tensor | None = None) -> RenderOutput:
    b, h, w, _ = image.shape
    return RenderOutput(
        image=image,
        mask=torch.ones(b, h, w) if mask is None else mask,
        depth=torch.zeros(b, h, w),
        normals=torch.zeros(b, h, w, 3),
        uv=torch.zeros(b, h, w, 2),
        triangle_id=torch.full((b, h, w), -1, dtype=torch.long),
    )


def textures(batch: int = 2, seed: int = 0, device: str = "cpu") -> Textures:
    g = torch.Generator().manual_seed(seed)
    return Textures(
        diffuse=(0.2 + 0.6 * torch.rand(batch, T, T, 3, generator=g)).to(device),
        specular=(0.1 + 0.3 * torch.rand(batch, T, T, 3, generator=g)).to(device),
        roughness=(0.2 + 0.5 * torch.rand(batch, T, T, 1, generator=g)).to(device),
    )


def descends(f, x: torch.Tensor, lr: float) -> tuple[float, float]:
    """(loss before, loss after) one gradient step of size lr on x."""
    x = x.detach().requires_grad_(True)
    before = f(x)
    (grad,) = torch.autograd.grad(before, x)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    with torch.no_grad():
        after = f(x - lr * grad)
    return before.item(), after.item()


# --- registration -------------------------------------------------------------------------------

def test_every_loss_is_registered_with_documented_params(registry):
    assert registry.names("loss") == sorted(NAMES)
    for name in NAMES:
        spec = registry.get("loss", name)
        fields = {f.name: f for f in dataclasses.fields(spec.params)}
        assert fields["weight"].default == 1.0
        assert all(field_doc(f) for f in fields.values()), name
        assert issubclass(spec.load(), Loss)
        assert spec.load().needs_render == (name == "photometric"), name


def test_registration_module_does_not_import_torch():
    code = "import sys, plugins.losses; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


@pytest.mark.parametrize("device", DEVICES)
def test_every_loss_returns_one_differentiable_value_per_face(build, device):
    g = torch.Generator().manual_seed(1)
    b, h, w = 2, 16, 16
    leaves = {
        "image": torch.rand(b, h, w, 3, generator=g),
        "landmarks": torch.rand(b, 68, 2, generator=g) * 16,
        "identity": torch.randn(b, 5, generator=g),
        "light": torch.randn(b, 9, 3, generator=g),
        **{k: v for k, v in dataclasses.asdict(textures(b, seed=2)).items()},
    }
    leaves = {k: (v.to(device) * 1.5).detach().requires_grad_(True) for k, v in leaves.items()}
    base = textures(1, seed=3, device=device)
    model = MirroredUV(T, texel_mask=(torch.rand(T * T, generator=g) > 0.3).to(device))
    model.texel_symmetry = model.texel_symmetry.to(device)
    render = render_output(leaves["image"], torch.ones(b, h, w, device=device))
    inputs = LossInputs(
        target=torch.rand(b, h, w, 3, generator=g).to(device),
        render=render,
        region=torch.ones(b, h, w, device=device),
        landmarks_target=(torch.rand(b, 68, 2, generator=g) * 16).to(device),
        landmarks_pred=leaves["landmarks"],
        coefficients={"identity": leaves["identity"], "light": leaves["light"]},
        textures=Textures(leaves["diffuse"], leaves["specular"], leaves["roughness"]),
        base_textures=base,
        model=model,
    )
    used = {
        "landmark": "landmarks", "photometric": "image", "gaussian-prior": "identity", "sh-prior": "light",
        "texture-symmetry": "diffuse", "texture-consistency": "specular", "texture-chromaticity": "diffuse",
        "texture-smoothness": "roughness", "texture-range": "diffuse",
    }
    for name in NAMES:
        if name in ("shape-truth", "size-prior", "light-truth"):  # need a model or a truth: LossContract and own tests cover them
            continue
        value = build(name, device).raw(inputs)
        assert value.shape == (b,) and value.dtype == torch.float32 and value.device.type == device, name
        assert torch.isfinite(value).all() and (value > 0).all(), name
        (grad,) = torch.autograd.grad(value.sum(), leaves[used[name]])
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0, name


# --- landmark -----------------------------------------------------------------------------------

def landmarks(batch: int = 2, seed: int = 0) -> torch.Tensor:
    """(batch, 68, 2) random points, the nose tip (30) midway between the outer eye corners (36,
    45): a face looking at the camera, whose jaw contour the loss keeps."""
    g = torch.Generator().manual_seed(seed)
    points = 40 + 100 * torch.rand(batch, 68, 2, generator=g)
    points[:, 30] = (points[:, 36] + points[:, 45]) / 2
    return points


def test_landmark_zero_at_optimum_and_mean_squared_pixels(build):
    target = landmarks()
    loss = build("landmark", jaw="all")
    assert loss(LossInputs(landmarks_pred=target.clone(), landmarks_target=target)).item() == 0.0
    pred = target + torch.tensor([3.0, 4.0])
    assert loss(LossInputs(landmarks_pred=pred, landmarks_target=target)).item() == pytest.approx(25.0)


def test_landmark_upper_jaw_drops_exactly_the_lower_contour(build):
    target = landmarks(1)
    modes = {"upper": set(NEXTFACE_DROPPED_JAW), "none": set(IBUG68_GROUPS["jaw"]), "all": set()}
    for jaw, dropped in modes.items():
        loss = build("landmark", jaw=jaw)
        ignored = set()
        for i in range(68):
            pred = target.clone()
            pred[0, i] += 3.0
            if loss(LossInputs(landmarks_pred=pred, landmarks_target=target)).item() == 0.0:
                ignored.add(i)
        assert ignored == dropped, jaw
    assert NEXTFACE_DROPPED_JAW == (4, 5, 6, 10, 11, 12)


def test_landmark_group_weights_give_a_weighted_mean(build):
    target = landmarks(1)
    pred = target + torch.randn(1, 68, 2, generator=torch.Generator().manual_seed(5))
    loss = build("landmark", jaw="all", point_weights={"nose": 20.0, "inner_mouth": 20.0})
    w = torch.ones(68)
    w[list(IBUG68_GROUPS["nose"]) + list(IBUG68_GROUPS["inner_mouth"])] = 20.0
    expected = ((pred - target).pow(2).sum(-1) * w).sum() / w.sum()
    value = loss(LossInputs(landmarks_pred=pred, landmarks_target=target))
    assert value.item() == pytest.approx(expected.item(), rel=1e-5)
    with pytest.raises(RecipeError, match="point_weights.noze: expected one of jaw, brows, nose, eyes, mouth, "
                       "inner_mouth, got str 'noze' \\(did you mean 'nose'\\?\\)"):
        build("landmark", point_weights={"noze": 2.0})
    with pytest.raises(RecipeError, match="point_weights: every point weighs 0 \\(jaw: none\\)"):
        build("landmark", jaw="none", point_weights={g: 0.0 for g in IBUG68_GROUPS if g != "jaw"})


def test_landmark_normalisations(build):
    target = landmarks(2)
    pred = target + 2.0
    image = torch.zeros(2, 100, 160, 3)
    pixels = build("landmark")(LossInputs(landmarks_pred=pred, landmarks_target=target)).item()
    by_image = build("landmark", normalize="image")(LossInputs(target=image, landmarks_pred=pred, landmarks_target=target))
    assert by_image.item() == pytest.approx(pixels / 160**2, rel=1e-5)
    eyes = build("landmark", normalize="eyes")
    small = eyes(LossInputs(landmarks_pred=pred, landmarks_target=target)).item()
    large = eyes(LossInputs(landmarks_pred=3 * pred, landmarks_target=3 * target)).item()
    assert small > 0 and large == pytest.approx(small, rel=1e-5)
    with pytest.raises(ValueError, match="image size"):
        build("landmark", normalize="image")(LossInputs(landmarks_pred=pred, landmarks_target=target))


def test_landmark_batch_is_the_mean_of_single_images_and_gradient_descends(build):
    target = landmarks(3)
    pred = target + torch.randn(3, 68, 2, generator=torch.Generator().manual_seed(6)) * 5
    loss = build("landmark")
    batch = loss(LossInputs(landmarks_pred=pred, landmarks_target=target)).item()
    singles = [loss(LossInputs(landmarks_pred=pred[i:i + 1], landmarks_target=target[i:i + 1])).item() for i in range(3)]
    assert batch == pytest.approx(sum(singles) / 3, rel=1e-5)
    before, after = descends(lambda p: loss(LossInputs(landmarks_pred=p, landmarks_target=target)), pred, 0.1)
    assert after < before
    with pytest.raises(ValueError, match="landmarks_pred"):
        loss(LossInputs(landmarks_target=target))


def test_landmark_confidence_weighs_each_point(build):
    target = landmarks(2)
    pred = target.clone()
    pred[:, 3, 0] += 10.0  # one point 10 px off on both faces
    confidence = torch.ones(2, 68)
    confidence[0, 3] = 0.0  # face 0's detector marks it hidden
    inputs = LossInputs(landmarks_pred=pred, landmarks_target=target, landmarks_confidence=confidence)
    values = build("landmark", jaw="all").raw(inputs)
    assert values[0].item() == 0.0 and values[1].item() == pytest.approx(100.0 / 68, rel=1e-5)
    ignoring = build("landmark", jaw="all", use_confidence=False).raw(inputs)
    assert torch.allclose(ignoring, torch.full((2,), 100.0 / 68))


def test_landmark_jaw_contour_fades_out_as_the_head_turns(build):
    """The nose tip off the eye corners' middle by NOSE_DEPTH·tan(yaw) half eye distances: the
    jaw contour weighs fully up to 25° of yaw, partly between, nothing from 45°."""
    target = landmarks(1)
    right, left = target[0, 36], target[0, 45]
    jaw_off, inner_off = target.clone(), target.clone()
    jaw_off[0, 3, 0] += 10.0
    inner_off[0, 40, 0] += 10.0
    loss, keeping = build("landmark", jaw="all"), build("landmark", jaw="all", fade_turned_jaw=False)
    jaw_values = []
    for yaw in (0.0, 20.0, 35.0, 50.0, -50.0):
        turned = target.clone()
        turned[0, 30] = (right + left) / 2 + (left - right) / 2 * NOSE_DEPTH * math.tan(math.radians(yaw))
        jaw_off[0, 30], inner_off[0, 30] = turned[0, 30], turned[0, 30]
        assert estimated_yaw(turned).item() == pytest.approx(yaw, abs=1e-3)
        jaw_values.append(loss(LossInputs(landmarks_pred=jaw_off, landmarks_target=turned)).item())
        inner = loss(LossInputs(landmarks_pred=inner_off, landmarks_target=turned)).item()
        assert inner == pytest.approx(100.0 / (68 - 17 * (1 - contour_weights(turned)[0, 0].item())), rel=1e-5)
        assert keeping(LossInputs(landmarks_pred=jaw_off, landmarks_target=turned)).item() == pytest.approx(100.0 / 68)
    assert jaw_values[0] == pytest.approx(100.0 / 68) and jaw_values[1] == pytest.approx(100.0 / 68)
    assert 0 < jaw_values[2] < 100.0 / 68 and jaw_values[3] == 0.0 and jaw_values[4] == 0.0


# --- photometric --------------------------------------------------------------------------------

def photo_pair(seed: int = 0, b: int = 2, h: int = 12, w: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, h, w, 3, generator=g), torch.rand(b, h, w, 3, generator=g)


def test_photometric_zero_at_optimum_and_norms(build):
    image, target = photo_pair()
    for norm in ("l1", "l2", "euclidean"):
        loss = build("photometric", norm=norm)
        assert loss(LossInputs(target=image.clone(), render=render_output(image))).item() == 0.0
        assert loss(LossInputs(target=target, render=render_output(image))).item() > 0
    shifted = image + torch.tensor([0.3, 0.4, 0.0])
    values = {n: build("photometric", norm=n)(LossInputs(target=shifted, render=render_output(image))).item()
              for n in ("l1", "l2", "euclidean")}
    assert values["l1"] == pytest.approx(0.7 / 3, rel=1e-5)
    assert values["l2"] == pytest.approx(0.25 / 3, rel=1e-5)
    assert values["euclidean"] == pytest.approx(0.5, rel=1e-5)


def test_photometric_ignores_pixels_outside_region_and_coverage(build):
    image, target = photo_pair()
    region = torch.zeros(2, 12, 10)
    region[:, 2:9, 1:6] = 1.0
    coverage = torch.zeros(2, 12, 10)
    coverage[:, 4:12, 3:10] = 1.0
    loss = build("photometric")
    for reg, cov in ((region, None), (None, coverage), (region, coverage)):
        keep = torch.ones(2, 12, 10) if reg is None else reg.clone()
        keep = keep * (1.0 if cov is None else cov)
        changed = torch.where(keep[..., None] > 0, target, torch.rand_like(target) * 5)
        a = loss(LossInputs(target=target, render=render_output(image, cov), region=reg)).item()
        b = loss(LossInputs(target=changed, render=render_output(image, cov), region=reg)).item()
        assert a == pytest.approx(b, rel=1e-6) and a > 0
        expected = ((image - target).abs().mean(-1) * keep).sum((1, 2)) / keep.sum((1, 2))
        assert a == pytest.approx(expected.mean().item(), rel=1e-5)


def test_photometric_batch_mean_empty_mask_and_render_mask_without_coverage(build):
    image, target = photo_pair(b=3)
    region = torch.zeros(3, 12, 10)
    region[0, :4] = 1.0
    region[1] = 1.0  # image 2 has no face pixel: contributes 0
    loss = build("photometric")
    batch = loss(LossInputs(target=target, render=render_output(image), region=region)).item()
    singles = [loss(LossInputs(target=target[i:i + 1], render=render_output(image[i:i + 1]),
                               region=region[i:i + 1])).item() for i in range(3)]
    assert singles[2] == 0.0 and batch == pytest.approx(sum(singles) / 3, rel=1e-5)
    bare = render_output(image)
    bare.mask = None
    everywhere = loss(LossInputs(target=target, render=bare)).item()
    assert everywhere == pytest.approx((image - target).abs().mean().item(), rel=1e-5)
    x = image.clone().requires_grad_(True)
    empty = loss(LossInputs(target=target, render=render_output(x), region=torch.zeros(3, 12, 10)))
    empty.backward()
    assert empty.item() == 0.0 and torch.isfinite(x.grad).all()


def test_photometric_mask_gradients_switch(build):
    image, target = photo_pair()
    image.requires_grad_(True)
    region = torch.zeros(2, 12, 10)
    region[:, :6] = 1.0
    for flag in (False, True):
        coverage = torch.full((2, 12, 10), 0.5, requires_grad=True)
        build("photometric", mask_gradients=flag)(
            LossInputs(target=target, render=render_output(image, coverage), region=region)).backward()
        assert (coverage.grad is not None) == flag


def test_photometric_gradient_descends(build):
    image, target = photo_pair()
    region = (torch.rand(2, 12, 10, generator=torch.Generator().manual_seed(3)) > 0.4).float()
    for norm in ("l1", "l2", "euclidean"):
        loss = build("photometric", norm=norm, blur_sigma=1.0)
        f = lambda x: loss(LossInputs(target=target, render=render_output(x), region=region))  # noqa: E731
        before, after = descends(f, image, 0.5)
        assert after < before, norm


def test_blur_kernel_is_normalised_and_keeps_constants():
    for sigma, size in ((0.5, 0), (1.0, 0), (2.5, 0), (1.0, 3)):
        kernel = gaussian_kernel(sigma, size)
        assert kernel.sum().item() == pytest.approx(1.0, abs=1e-6)
        assert kernel.shape[0] == (size or 2 * math.ceil(3 * sigma) + 1)
        constant = torch.full((2, 9, 7, 3), 0.37)
        assert torch.allclose(gaussian_blur(constant, kernel), constant, atol=1e-6)
    # NextFace's GaussianSmoothing(3, 3, 1.0) evaluates exp(-(x / (2σ))²): a Gaussian of σ = √2.
    assert torch.allclose(gaussian_kernel(math.sqrt(2), 3), torch.tensor([math.exp(-0.25), 1, math.exp(-0.25)])
                          / (1 + 2 * math.exp(-0.25)))
    with pytest.raises(ValueError, match="odd"):
        gaussian_kernel(1.0, 4)


def test_photometric_blur_applies_to_the_render(build):
    image = torch.zeros(1, 9, 9, 3)
    image[0, 4, 4] = 1.0
    target = gaussian_blur(image, gaussian_kernel(1.0))
    blurred = build("photometric", blur_sigma=1.0)
    assert blurred(LossInputs(target=target, render=render_output(image))).item() == pytest.approx(0.0, abs=1e-7)
    assert build("photometric")(LossInputs(target=target, render=render_output(image))).item() > 0
    constant = torch.full((1, 9, 9, 3), 0.6)
    assert blurred(LossInputs(target=constant, render=render_output(constant))).item() == pytest.approx(0.0, abs=1e-7)


# --- priors -------------------------------------------------------------------------------------

def test_gaussian_prior_values_missing_groups_and_descent(build):
    g = torch.Generator().manual_seed(0)
    coefficients = {"identity": torch.randn(2, 6, generator=g), "expression": torch.randn(2, 4, generator=g)}
    loss = build("gaussian-prior", groups={"identity": 1.0, "expression": 0.8, "albedo": 0.017})
    expected = coefficients["identity"].pow(2).mean() + 0.8 * coefficients["expression"].pow(2).mean()
    assert loss(LossInputs(coefficients=coefficients)).item() == pytest.approx(expected.item(), rel=1e-6)
    zeros = {k: torch.zeros_like(v) for k, v in coefficients.items()}
    assert loss(LossInputs(coefficients=zeros)).item() == 0.0
    nothing = loss.raw(LossInputs(coefficients={"light": torch.ones(2, 9, 3)}))
    assert nothing.shape == (2,) and (nothing == 0).all()
    before, after = descends(lambda c: loss(LossInputs(coefficients={"identity": c})), coefficients["identity"], 0.5)
    assert after < before


def test_sh_prior_magnitude_dc_and_colour(build):
    g = torch.Generator().manual_seed(0)
    light = torch.randn(2, 9, 3, generator=g)
    loss = build("sh-prior")
    assert loss(LossInputs(coefficients={"light": light})).item() == pytest.approx(light.pow(2).mean().item())
    assert loss(LossInputs(coefficients={"light": torch.zeros(2, 9, 3)})).item() == 0.0
    dc_only = torch.zeros(2, 9, 3)
    dc_only[:, 0] = 0.8
    assert build("sh-prior", exclude_dc=True)(LossInputs(coefficients={"light": dc_only})).item() == 0.0
    mono = build("sh-prior", monochrome=True)
    grey = torch.randn(2, 9, 1, generator=g).expand(2, 9, 3)
    assert mono(LossInputs(coefficients={"light": grey})).item() == pytest.approx(0.0, abs=1e-12)
    assert mono(LossInputs(coefficients={"light": light})).item() > 0
    for variant in (loss, mono, build("sh-prior", exclude_dc=True)):
        before, after = descends(lambda x: variant(LossInputs(coefficients={"light": x})), light, 0.5)
        assert after < before
    with pytest.raises(ValueError, match="light"):
        loss(LossInputs())


# --- texture regularisers -----------------------------------------------------------------------

def tex_inputs(tex: Textures, base: Textures | None = None, model=None) -> LossInputs:
    return LossInputs(textures=tex, base_textures=base, model=model)


def with_map(tex: Textures, name: str, value: torch.Tensor) -> Textures:
    return dataclasses.replace(tex, **{name: value})


def test_mirrored_uv_layout_is_an_involution():
    sym = MirroredUV(T).texel_symmetry
    assert torch.equal(sym[sym], torch.arange(T * T)) and not torch.equal(sym, torch.arange(T * T))
    assert sym[0].item() == T - 1


def test_texture_symmetry(build):
    model = MirroredUV(T)
    tex = textures()
    mirrored = Textures(*[(m + m.flip(2)) / 2 for m in (tex.diffuse, tex.specular, tex.roughness)])
    loss = build("texture-symmetry")
    assert loss(tex_inputs(mirrored, model=model)).item() == pytest.approx(0.0, abs=1e-7)
    assert loss(tex_inputs(tex, model=model)).item() > 0
    # asymmetry confined to texels outside the face region (column 0 and its mirror) is ignored
    face = torch.ones(T, T, dtype=torch.bool)
    face[:, 0] = False
    outside = mirrored.diffuse.clone()
    outside[:, :, 0] = 0.9
    masked = MirroredUV(T, texel_mask=face.reshape(-1))
    assert build("texture-symmetry", maps=["diffuse"])(
        tex_inputs(with_map(mirrored, "diffuse", outside), model=masked)).item() == 0.0
    f = lambda d: build("texture-symmetry", maps=["diffuse"])(tex_inputs(with_map(tex, "diffuse", d), model=model))  # noqa: E731
    before, after = descends(f, tex.diffuse, 0.5)
    assert after < before
    with pytest.raises(ValueError, match="texel_symmetry"):
        loss(tex_inputs(tex))


def test_texture_consistency(build):
    tex, base = textures(seed=0), textures(seed=1)
    loss = build("texture-consistency")
    assert loss(tex_inputs(base, base)).item() == 0.0
    assert loss(tex_inputs(tex, base)).item() == pytest.approx(
        sum((getattr(tex, m) - getattr(base, m)).abs().mean().item() for m in ("diffuse", "specular", "roughness")),
        rel=1e-5)
    face = torch.zeros(T * T, dtype=torch.bool)
    face[:20] = True
    only_outside = base.diffuse.clone().reshape(2, T * T, 3)
    only_outside[:, 20:] += 0.3
    inputs = tex_inputs(with_map(base, "diffuse", only_outside.reshape(2, T, T, 3)), base, MirroredUV(T, face))
    assert loss(inputs).item() == 0.0
    f = lambda r: build("texture-consistency", maps=["roughness"])(tex_inputs(with_map(tex, "roughness", r), base))  # noqa: E731
    before, after = descends(f, tex.roughness, 0.5)
    assert after < before
    with pytest.raises(ValueError, match="base_textures"):
        loss(tex_inputs(tex))


def test_texture_chromaticity(build):
    tex, base = textures(seed=0), textures(seed=1)
    loss = build("texture-chromaticity")
    assert loss(tex_inputs(base, base)).item() == 0.0
    brighter = with_map(base, "diffuse", base.diffuse * 1.2)
    redder = with_map(base, "diffuse", base.diffuse * torch.tensor([1.2, 1.0, 1.0]))
    assert loss(tex_inputs(brighter, base)).item() < 1e-3 < loss(tex_inputs(redder, base)).item()
    f = lambda d: loss(tex_inputs(with_map(tex, "diffuse", d), base))  # noqa: E731
    before, after = descends(f, tex.diffuse, 0.05)
    assert after < before
    with pytest.raises(RecipeError, match="maps.0: expected one of diffuse, specular, got str 'roughness'"):
        build("texture-chromaticity", maps=["roughness"])


def test_texture_smoothness(build):
    tex = textures()
    constant = Textures(*[torch.full_like(m, 0.4) for m in (tex.diffuse, tex.specular, tex.roughness)])
    for norm in ("l1", "l2"):
        loss = build("texture-smoothness", norm=norm)
        assert loss(tex_inputs(constant)).item() == 0.0
        assert loss(tex_inputs(tex)).item() > 0
        f = lambda d: loss(tex_inputs(with_map(tex, "diffuse", d)))  # noqa: E731
        before, after = descends(f, tex.diffuse, 0.05)
        assert after < before, norm
    # noise in the rows outside the face region does not count
    face = torch.zeros(T, T, dtype=torch.bool)
    face[:4] = True
    noisy = constant.diffuse.clone()
    noisy[:, 4:] = tex.diffuse[:, 4:]
    loss = build("texture-smoothness", maps=["diffuse"])
    assert loss(tex_inputs(with_map(constant, "diffuse", noisy), model=MirroredUV(T, face.reshape(-1)))).item() == 0.0
    assert loss(tex_inputs(with_map(constant, "diffuse", noisy))).item() > 0


def test_texture_range(build):
    tex = textures()
    loss = build("texture-range")
    assert loss(tex_inputs(tex)).item() == 0.0
    out = with_map(tex, "diffuse", tex.diffuse.clone())
    out.diffuse[0, 0, 0] = torch.tensor([-0.5, 1.5, 0.5])
    n = out.diffuse.numel()
    assert loss(tex_inputs(out)).item() == pytest.approx(0.5 / n, rel=1e-5)
    assert build("texture-range", norm="l1")(tex_inputs(out)).item() == pytest.approx(1.0 / n, rel=1e-5)
    smooth = with_map(tex, "roughness", torch.full_like(tex.roughness, 0.02))
    assert loss(tex_inputs(smooth)).item() == pytest.approx(0.03**2, rel=1e-4)
    assert build("texture-range", roughness_range=(0.0, 1.0))(tex_inputs(smooth)).item() == 0.0
    f = lambda d: loss(tex_inputs(with_map(tex, "diffuse", d)))  # noqa: E731
    before, after = descends(f, tex.diffuse * 2 - 0.5, 0.5)
    assert after < before
    with pytest.raises(RecipeError, match=r"roughness_range: must be \[min, max\] with min < max, got \[0.9, 0.1\]"):
        build("texture-range", roughness_range=(0.9, 0.1))


# --- size prior ---------------------------------------------------------------------------------

def test_size_prior_measures_the_size_change_of_the_identity():
    """On bfm-lite: identity component 0 grows the head by ~3 % per std; scaling the shape it makes
    reproduces the loss's first-order size change, and a shape-only change costs little."""
    from facerecon.api import build as build_component
    from plugins.losses.priors import size_directions

    model = build_component("morphable_model", "bfm-lite", texture_size=16)
    directions = size_directions(model)
    assert directions.shape == (model.n_identity,)
    assert 0.02 < float(directions[0]) < 0.04 and float(directions[1:].abs().max()) < 0.01
    loss = build_component("loss", "size-prior", tolerance=0.01)
    identity = torch.zeros(2, model.n_identity)
    identity[0, 0] = 1.0                 # mostly size
    identity[1, 1] = 1.0                 # mostly shape
    values = loss(LossInputs(coefficients={"identity": identity}, model=model))
    assert float(values[0]) == pytest.approx((float(directions[0]) / 0.01) ** 2, rel=1e-5)
    assert float(values[1]) < 0.01 * float(values[0])
    with torch.no_grad():
        mean = model.shape(torch.zeros(1, model.n_identity), torch.zeros(1, model.n_expression))[0]
        grown = model.shape(identity[:1], torch.zeros(1, model.n_expression))[0]
    m = mean - mean.mean(0)
    scale = float(((grown - grown.mean(0)) * m).sum() / m.pow(2).sum())
    assert scale - 1 == pytest.approx(float(directions[0]), rel=0.05)


# --- shape truth --------------------------------------------------------------------------------

def test_squared_shape_truth_is_not_deflected_by_an_unseen_size_error():
    """On bfm-lite, faces whose expression is off by the same amount and whose head size (identity
    component 0, which a crop does not show) is wrong by ±2 std: the squared distance's mean pull on
    the expression is the pull without the size error; the euclidean distance's shrinks."""
    from facerecon.api import build as build_component

    model = build_component("morphable_model", "bfm-lite", texture_size=16)
    truth_expression = torch.zeros(4, model.n_expression)
    truth_identity = torch.zeros(4, model.n_identity)
    truth_identity[:, 0] = torch.tensor([2.0, -2.0, 0.0, 0.0])  # faces 0, 1: size wrong; 2, 3: size right

    def pull(distance: str) -> torch.Tensor:
        loss = build_component("loss", "shape-truth", distance=distance)
        expression = torch.zeros(4, model.n_expression)
        expression[:, 0] = 1.0
        expression.requires_grad_(True)
        inputs = LossInputs(coefficients={"identity": torch.zeros(4, model.n_identity), "expression": expression},
                            model=model, extras={"truth": {"identity": truth_identity, "expression": truth_expression}})
        loss(inputs).sum().backward()
        return expression.grad

    squared, euclidean = pull("squared"), pull("euclidean")
    assert float(squared[2, 0]) > 0 and float(euclidean[2, 0]) > 0      # both pull the expression back
    assert torch.allclose(squared[:2].mean(0), squared[2], rtol=1e-3, atol=1e-5)
    assert float(euclidean[:2, 0].mean()) < 0.7 * float(euclidean[2, 0])


# --- light truth --------------------------------------------------------------------------------

def test_light_truth_is_the_radiance_difference_over_the_sphere():
    """With SH light (an orthonormal basis) the loss is ∫ (L − L*)² dω over the sphere, averaged
    over the colour channels: checked against the lighting's own radiance on a fine sphere grid.
    Its gradient moves the predicted light towards the truth."""
    from facerecon.api import build as build_component

    lighting = build_component("lighting", "sh", bands=3)
    g = torch.Generator().manual_seed(0)
    truth = lighting.initial(2) + 0.3 * torch.randn(2, lighting.n_coeffs, 3, generator=g)
    predicted = (lighting.initial(2) + 0.3 * torch.randn(2, lighting.n_coeffs, 3, generator=g)).requires_grad_(True)
    loss = build_component("loss", "light-truth")
    value = loss(LossInputs(coefficients={"light": predicted}, extras={"truth": {"light": truth}}))

    theta = (torch.arange(400) + 0.5) / 400 * math.pi  # polar angle
    phi = (torch.arange(800) + 0.5) / 800 * 2 * math.pi
    t, p = torch.meshgrid(theta, phi, indexing="ij")
    directions = torch.stack([t.sin() * p.cos(), t.sin() * p.sin(), t.cos()], -1).reshape(1, -1, 3).expand(2, -1, -1)
    area = (t.sin() * (math.pi / 400) * (2 * math.pi / 800)).reshape(1, -1, 1)
    with torch.no_grad():
        difference = lighting.radiance(predicted, directions) - lighting.radiance(truth, directions)
        integral = (difference.pow(2) * area).sum(1).mean(-1)
    torch.testing.assert_close(value.detach(), integral, rtol=1e-3, atol=1e-5)

    value.sum().backward()
    with torch.no_grad():
        stepped = predicted - 0.1 * predicted.grad
        after = loss(LossInputs(coefficients={"light": stepped}, extras={"truth": {"light": truth}}))
    assert (after < value.detach()).all()


def test_light_truth_without_a_truth_says_what_it_needs():
    from facerecon.api import build as build_component
    from facerecon.errors import FaceReconError

    loss = build_component("loss", "light-truth")
    with pytest.raises(FaceReconError, match="only synthetic training faces have"):
        loss(LossInputs(coefficients={"light": torch.zeros(1, 9, 3)}))
