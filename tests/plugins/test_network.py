"""The DeepNextFace network's parts: crop framing, heads, synthetic faces, light projection, accuracy.

Real components throughout: the bfm-lite model (32-texel maps), SH light, Cook-Torrance, the
rasterizer, a small timm encoder.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from facerecon.api import build
from facerecon.geometry import apply_pose, euler_to_matrix
from facerecon.heads import CropFraming, ParameterHeads, look_rotation
from facerecon.pipeline import FacePipeline, FaceTargets
from facerecon.evaluation.draw import draw_truth
from facerecon.evaluation.settings import DrawSettings
from plugins.tasks import SyntheticParams
from plugins.tasks.accuracy import geometry_distances, landmark_error
from plugins.tasks.crop import crop_around
from plugins.tasks.synthetic import face_generator, project_light, sun_and_ambient, synthetic_faces

SIZE = 64
MARGIN = 1.6


@pytest.fixture(scope="module")
def pipeline():
    model = build("morphable_model", "bfm-lite", texture_size=32)
    return FacePipeline(model, build("lighting", "sh", bands=3), build("reflectance", "cook-torrance"),
                        build("renderer", "rasterizer"))


@pytest.fixture(scope="module")
def framing(pipeline):
    return CropFraming.from_model(pipeline.model, MARGIN, 2.0)


def _angle_deg(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    cosine = ((a.transpose(-1, -2) @ b).diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2
    return torch.rad2deg(torch.acos(cosine.clamp(-1, 1)))


def test_look_rotation_turns_the_optical_axis_onto_the_ray():
    directions = torch.nn.functional.normalize(torch.tensor([[0.0, 0.0, 1.0], [0.3, -0.2, 1.0], [-0.9, 0.5, 0.4]]), dim=-1)
    rotation = look_rotation(directions)
    assert torch.allclose(rotation[:, :, 2], directions, atol=1e-6)
    assert torch.allclose(rotation @ rotation.transpose(1, 2), torch.eye(3).expand(3, 3, 3), atol=1e-5)
    assert torch.allclose(torch.linalg.det(rotation), torch.ones(3), atol=1e-5)
    assert torch.allclose(rotation[0], torch.eye(3))


@pytest.mark.parametrize("principal", [(SIZE / 2, SIZE / 2), (SIZE / 2 - 40.0, SIZE / 2 + 20.0)])
def test_zero_camera_outputs_frame_the_mean_face_as_crops_do(pipeline, framing, principal):
    """Zero head outputs put the mean face facing the viewing ray, centred in the crop and as large as
    crop_around frames its landmarks, wherever the photo's principal point lies (here also 19° off
    the optical axis, where perspective stretches the face by 1/cos 19° = 1.06 along the offset)."""
    batch = 1
    zeros = {"rotation": torch.zeros(batch, 6), "translation": torch.zeros(batch, 3), "focal": torch.zeros(batch, 1)}
    centre = torch.tensor([principal], dtype=torch.float32)
    camera = framing.camera(zeros, centre, SIZE)
    values = pipeline.layout.initial(batch, "cpu", **camera)
    decoded = pipeline.decode(values, FaceTargets(image=torch.zeros(batch, SIZE, SIZE, 3), principal=centre),
                              geometry=False, textures=False)
    points = decoded.camera.project(decoded.landmarks)[0].numpy()
    crop = crop_around(points, SIZE, MARGIN)
    assert abs(crop.scale - 1.0) < 0.08, f"the mean face's landmarks span {1 / crop.scale:.3f} crops"
    assert abs(crop.x0) < 0.05 * SIZE and abs(crop.y0) < 0.05 * SIZE, (crop.x0, crop.y0)
    assert camera["focal"].item() == pytest.approx(2.0 * SIZE)
    ray = torch.nn.functional.normalize(decoded.landmarks[0].mean(0), dim=0)
    facing = camera["rotation"][0] @ torch.tensor([0.0, 0.0, 1.0])  # the model's +z (out of the face)
    assert math.degrees(math.acos(float(-facing @ ray))) < 3.0, "the face should look back along its viewing ray"


def test_untrained_heads_predict_the_initial_values(pipeline, framing):
    torch.manual_seed(0)
    heads = ParameterHeads(pipeline.layout, 128, framing, init_scale=0.01)
    assert "textures" not in heads.groups
    latent = torch.randn(4, 128)
    values = heads(latent, torch.full((4, 2), SIZE / 2), SIZE)
    initial = pipeline.layout.initial(4, "cpu")
    assert values["identity"].abs().max() < 0.05 and values["expression"].abs().max() < 0.05
    assert (values["light"] - initial["light"]).abs().max() < 0.05
    assert _angle_deg(values["rotation"], initial["rotation"]).max() < 2.0
    # Heads are sized from the layout: 40 identity and 10 expression coefficients, 9 SH coefficients × 3.
    assert heads.outputs["identity"].out_features == pipeline.model.n_identity
    assert heads.outputs["light"].out_features == 27
    # And they learn: a few steps move identity[0] of every face towards 1.
    optimiser = torch.optim.Adam(heads.parameters(), lr=0.05)
    for _ in range(20):
        optimiser.zero_grad()
        loss = (heads(latent, torch.full((4, 2), SIZE / 2), SIZE)["identity"][:, 0] - 1).pow(2).mean()
        loss.backward()
        optimiser.step()
    assert loss.item() < 0.1


def test_the_heads_neither_copy_from_the_host_nor_wait_for_the_device(pipeline, framing):
    """What lets the network replay its heads as a CUDA graph: after a first call (which makes the
    constants), a call makes no tensor from host data and reads no value back to the host."""
    heads = ParameterHeads(pipeline.layout, 128, framing)
    latent, principal = torch.randn(3, 128), torch.full((3, 2), SIZE / 2)
    with torch.no_grad():
        heads(latent, principal, SIZE)
        with torch.profiler.profile() as profile:
            heads(latent, principal, SIZE)
    names = {event.name for event in profile.events()}
    assert "aten::addmm" in names  # the profile saw the heads' work
    assert not names & {"aten::lift_fresh", "aten::_local_scalar_dense", "aten::nonzero"}, names


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_inference_heads_replay_a_cuda_graph_with_the_eager_values(pipeline, framing):
    from facerecon.cudagraphs import CudaGraphed

    heads = ParameterHeads(pipeline.layout, 128, framing, init_scale=1.0).cuda()
    graphed = CudaGraphed(heads, heads)
    principal = torch.full((4, 2), SIZE / 2, device="cuda")
    with torch.no_grad():
        for seed in range(3):  # new inputs each call: the replay reads them, not the captured ones
            latent = torch.randn(4, 128, generator=torch.Generator().manual_seed(seed)).cuda()
            eager, replayed = heads(latent, principal, SIZE), graphed(latent, principal, size=SIZE)
            for name, value in eager.items():
                torch.testing.assert_close(replayed[name], value, rtol=1e-5, atol=1e-4)
        heads.outputs["identity"].weight.add_(0.5)  # an optimiser's in-place update is seen
        torch.testing.assert_close(graphed(latent, principal, size=SIZE)["identity"],
                                   heads(latent, principal, SIZE)["identity"], rtol=1e-5, atol=1e-4)
    assert graphed.enabled and len(graphed._graphs) == 1
    with torch.enable_grad():  # training keeps the eager path and its gradients
        assert graphed(latent, principal, size=SIZE)["identity"].requires_grad


def test_light_projection_recovers_the_lightings_own_coefficients(pipeline):
    lighting = pipeline.lighting
    true = lighting.initial(2)
    true[1, 1:4] = torch.tensor([[0.3, 0.2, 0.1], [-0.4, -0.1, 0.0], [0.2, 0.3, 0.5]])

    def radiance(directions):
        return lighting.radiance(true, directions[None].expand(2, -1, -1))

    assert torch.allclose(project_light(lighting, radiance), true, atol=1e-3)


def test_sun_and_ambient_light_the_faces_as_the_truth_says(pipeline):
    """The projected light gives the irradiance FaceTruth defines, π·ambient + sun·max(0, n·d), within
    what 3 SH bands hold of a sun (the clamped cosine's bands l <= 2 miss up to ~15 % of its peak
    near the terminator)."""
    lighting = pipeline.lighting
    direction = torch.nn.functional.normalize(torch.tensor([[0.3, -0.5, -0.8], [0.0, 0.0, -1.0]]), dim=-1)
    sun, ambient = torch.tensor([[2.5, 2.2, 2.0], [3.0, 3.0, 3.0]]), torch.tensor([[0.2, 0.2, 0.25], [0.1, 0.1, 0.1]])
    light = sun_and_ambient(lighting, direction, sun, ambient)
    normals = torch.nn.functional.normalize(torch.randn(2, 200, 3, generator=torch.Generator().manual_seed(0)), dim=-1)
    normals[:, 0] = direction
    expected = math.pi * ambient[:, None] + (normals @ direction[..., None]).clamp(min=0) * sun[:, None]
    irradiance = lighting.irradiance(light, normals)
    error = (irradiance - expected).abs() / expected.amax((1, 2), keepdim=True)
    assert error.amax() < 0.2 and error.mean() < 0.04, (error.amax(), error.mean())
    assert torch.allclose(irradiance[:, 0], expected[:, 0], rtol=0.05)


def test_geometry_distances_remove_pose_and_with_scale_size(pipeline):
    model = pipeline.model
    gen = torch.Generator().manual_seed(0)
    identity = torch.randn(2, model.n_identity, generator=gen)
    with torch.no_grad():
        shape = model.shape(identity, torch.zeros(2, model.n_expression))
    moved = apply_pose(shape, euler_to_matrix(torch.tensor([[0.3, -0.2, 0.1], [1.0, 0.5, -0.4]])),
                       torch.tensor([[5.0, -3.0, 200.0], [0.0, 10.0, 400.0]]))
    same = geometry_distances(moved, shape, model.faces, model.landmarks)
    assert same["rigid"].max() < 1e-3 and same["scaled"].max() < 1e-3
    # The evaluation's face region: vertices within 95 mm of the nose tip (a part of the head).
    assert 0.2 * 2 * model.n_vertices < len(same["rigid"]) < 0.9 * 2 * model.n_vertices
    bigger = geometry_distances(moved * 1.05, shape, model.faces, model.landmarks)
    assert bigger["rigid"].mean() > 1.0 and bigger["scaled"].max() < 1e-3
    bumped = shape.clone()
    bumped[:, :, 2] += 2.0 * (torch.arange(model.n_vertices) % 2).float()  # a shape change alignment cannot remove
    assert geometry_distances(moved, bumped, model.faces, model.landmarks)["scaled"].mean() > 0.5
    points = torch.zeros(1, 68, 2)
    points[0, 36:42, 0], points[0, 42:48, 0] = 0.0, 40.0
    pixels, relative = landmark_error(points + torch.tensor([3.0, 4.0]), points)
    assert pixels.item() == pytest.approx(5.0) and relative.item() == pytest.approx(5.0 / 40.0)


def test_synthetic_faces_keep_a_consistent_truth(pipeline):
    """Rendered crops show the face where its true values project it; face i does not depend on the
    number of faces or the chunking, and is not face i of the synthetic-faces evaluation set."""
    params = SyntheticParams(backgrounds=["coffee"], draw=DrawSettings(texture_size=64))
    faces = synthetic_faces(pipeline, pipeline.renderer, params, 3, seed=5, size=SIZE, margin=MARGIN, cache=None,
                            chunk=2)
    assert faces.images.shape == (3, SIZE, SIZE, 3) and faces.images.dtype == torch.uint8
    again = synthetic_faces(pipeline, pipeline.renderer, params, 1, seed=5, size=SIZE, margin=MARGIN, cache=None)
    assert torch.equal(again.images[0], faces.images[0])
    truth = dict(faces.truth)
    drawn = draw_truth(pipeline.model, face_generator(5, 0), params.draw)
    assert np.allclose(truth["identity"][0].numpy(), drawn.identity)
    evaluation = draw_truth(pipeline.model, np.random.default_rng([5, 0]), params.draw)  # synthetic-faces' face 0
    assert not np.allclose(drawn.identity, evaluation.identity)
    targets = FaceTargets(image=torch.zeros(3, SIZE, SIZE, 3), principal=faces.principal)
    decoded = pipeline.decode(truth, targets, geometry=False, textures=False)
    assert torch.allclose(decoded.camera.project(decoded.landmarks), faces.landmarks, atol=1e-2)
    # The landmarks lie inside the crop, their extent about 1/margin of it (the crop is jittered by ~4 %).
    extent = (faces.landmarks.amax(1) - faces.landmarks.amin(1)).amax(-1)
    assert ((extent / SIZE - 1 / MARGIN).abs() < 0.2).all(), extent
    assert (faces.landmarks > -0.1 * SIZE).all() and (faces.landmarks < 1.1 * SIZE).all()
    # Pixels inside the face differ from the background picture: the face was rendered there.
    centre = faces.landmarks[:, 30].round().long().clamp(0, SIZE - 1)
    for i in range(3):
        assert faces.images[i, centre[i, 1], centre[i, 0]].float().mean() > 10


def test_a_restored_optimiser_continues_exactly_on_channels_last_weights(tmp_path):
    """Checkpoints store the optimiser's moments contiguous; restored, they take their
    convolution's channels-last layout again, so the fused AdamW the trainer uses (which reads
    them as flat memory) continues as if never stopped (without it the weights drift apart)."""
    from plugins.tasks.network import load_checkpoint, load_network_state, load_optimizer_state, save_checkpoint

    torch.manual_seed(0)
    images = torch.randn(4, 3, 9, 9).contiguous(memory_format=torch.channels_last)
    target = torch.randn(4, 8, 7, 7)

    def network_and_optimiser():
        torch.manual_seed(1)
        net = torch.nn.Conv2d(3, 8, 3).to(memory_format=torch.channels_last)
        return net, torch.optim.AdamW(net.parameters(), lr=0.01, fused=True)

    def steps(net, optimiser, count):
        for _ in range(count):
            optimiser.zero_grad()
            (net(images) - target).pow(2).mean().backward()
            optimiser.step()

    straight, optimiser = network_and_optimiser()
    assert not straight.weight.is_contiguous()
    steps(straight, optimiser, 3)
    path = save_checkpoint(tmp_path / "c.safetensors", straight, "", {}, optimiser)
    steps(straight, optimiser, 3)

    restored, fresh = network_and_optimiser()
    tensors, metadata = load_checkpoint(path)
    load_network_state(restored, tensors, path)
    load_optimizer_state(fresh, tensors, metadata["training"]["optimizer"])
    steps(restored, fresh, 3)
    assert torch.equal(restored.weight, straight.weight) and torch.equal(restored.bias, straight.bias)
