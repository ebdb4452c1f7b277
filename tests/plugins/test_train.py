"""The ``train`` and ``reconstruct`` tasks end to end, cut down to run in about a minute on a CPU.

A tiny DeepNextFace (timm resnet10t, 48 px crops, bfm-lite with 16-texel maps, an upconv
decoder) trains on 24 synthetic faces rendered by the rasterizer. Shown here:

- a checkpoint holds the resolved recipe; the network rebuilt from it alone predicts what the
  training run measured (its last validation metrics) and the same values twice;
- a run stopped after one epoch and continued with ``resume`` logs the same loss curve and ends
  with the same weights as an uninterrupted run;
- one training step on two processes (gloo, DistributedDataParallel) with B faces each gives the
  gradients of one process with the 2B faces (the losses are means over faces), within 0.2 % of
  their largest element per tensor, and the same parameters after the update (but for elements
  whose gradient is about 0, which Adam's first step moves by ±lr whatever their sign noise);
- ``reconstruct`` writes every face of a folder like ``fit`` does, and its refinement stages lower
  the landmark error below the network's.
"""
from __future__ import annotations

import json
import os
import socket
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from facerecon.api import cache_dir
from facerecon.pluginmanager import load_plugins
from facerecon.recipe import Builder, load_recipe
from facerecon.runner import run_recipe
from facerecon.testing import astronaut

TRAIN = """
facerecon: 1
task:
  type: train
  image_size: 48
  batch_size: 4
  log_every: 1
  precision: fp32
  tensorboard: false
  network: {texture_decoder: {type: upconv, channels: 16, min_channels: 8}}
  synthetic: {count: 24, validation: 8, backgrounds: [coffee, brick], draw: {texture_size: 64}}
encoder: {type: timm, backbone: resnet10t, out_features: 32, input_size: 48}
model: {type: bfm-lite, texture_size: 16}
reflectance: {type: cook-torrance}
light: {type: sh, bands: 2}
renderer: {type: rasterizer}
device: cpu
stages:
  geometry:
    steps: 2
    lr: 0.002
    free: [pose, focal, identity, expression]
    losses:
      landmarks: {type: landmark, weight: 1.0}
      prior: {type: gaussian-prior, weight: 0.1}
"""


@pytest.fixture(scope="module")
def host():
    return load_plugins()


@pytest.fixture(scope="module")
def recipe_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("recipes") / "train.yaml"
    path.write_text(textwrap.dedent(TRAIN))
    return path


@pytest.fixture(scope="module")
def straight(host, recipe_file, tmp_path_factory) -> Path:
    """Two epochs in one run."""
    output = tmp_path_factory.mktemp("straight")
    run_recipe(recipe_file, host, output=str(output))
    return output


def _network_from_checkpoint(host, path: Path):
    from facerecon.pipeline import FacePipeline
    from plugins.tasks.network import build_network, checkpoint_recipe, load_checkpoint, load_network_state

    tensors, metadata = load_checkpoint(path)
    recipe = checkpoint_recipe(metadata, host.registry)
    build = Builder(host.registry, torch.device("cpu"), cache_dir(), recipe)
    pipeline = FacePipeline(build("model"), build("light"), build("reflectance"), build("renderer"))
    network = build_network(recipe.root, build, pipeline)
    load_network_state(network, tensors, path)
    return network.eval(), pipeline, recipe, metadata


def test_checkpoint_reloads_to_the_same_predictions(host, straight):
    from plugins.tasks.train import TrainTask, VALIDATION_SEED_OFFSET
    from plugins.tasks.synthetic import set_key, synthetic_faces
    from plugins.tasks.training import measure

    files = sorted(p.name for p in (straight / "checkpoints").iterdir())
    assert files == ["epoch-0001.safetensors", "epoch-0002.safetensors", "last.safetensors"]
    network, pipeline, recipe, metadata = _network_from_checkpoint(host, straight / "checkpoints" / "last.safetensors")
    assert recipe.root.task.type == "train" and recipe.root.encoder.params.backbone == "resnet10t"
    assert metadata["training"]["stage"] == 1 and metadata["training"]["global_epoch"] == 2
    params = recipe.root.task.params
    faces = synthetic_faces(pipeline, pipeline.renderer, params.synthetic, params.synthetic.validation,
                            params.synthetic.seed + VALIDATION_SEED_OFFSET, params.image_size, params.crop_margin,
                            cache_dir() / "network-faces" / set_key(pipeline, pipeline.renderer, params.synthetic,
                                                                     params.image_size, params.crop_margin))
    images = faces.images.float() / 255
    with torch.no_grad():
        first, second = network(images, faces.principal), network(images, faces.principal)
    assert all(torch.equal(first[k], second[k]) for k in first)
    metrics = measure(pipeline, {k: v for k, v in first.items() if k != "textures"}, faces, torch.device("cpu"))
    logged = json.loads((straight / "training.json").read_text())["epochs"][-1]
    assert metrics["landmark_px"] == pytest.approx(logged["landmark_px"], abs=1e-3)
    assert metrics["geometry_mm"] == pytest.approx(logged["geometry_mm"], abs=1e-3)
    assert metrics["light_rmse"] == pytest.approx(logged["light_rmse"], abs=1e-4)
    assert 0 < metrics["light_rmse"] < 1.5
    assert TrainTask  # the task module imports without side effects


def test_a_checkpoint_of_another_decoder_is_refused_clearly(host, straight):
    """A network built with another decoder (here shuffle 2, the upconv default before shuffle
    existed) is told plainly that the checkpoint does not fit, not a torch traceback."""
    from facerecon.errors import FaceReconError
    from facerecon.pipeline import FacePipeline
    from plugins.tasks.network import build_network, checkpoint_recipe, load_checkpoint, load_network_state

    path = straight / "checkpoints" / "last.safetensors"
    tensors, metadata = load_checkpoint(path)
    assert "shuffle: 4" in metadata["recipe"]
    recipe = checkpoint_recipe({**metadata, "recipe": metadata["recipe"].replace("shuffle: 4", "shuffle: 2")},
                               host.registry)
    build = Builder(host.registry, torch.device("cpu"), cache_dir(), recipe)
    pipeline = FacePipeline(build("model"), build("light"), build("reflectance"), build("renderer"))
    with pytest.raises(FaceReconError, match=r"does not fit this network .* differently shaped weights, e\.g\. "
                                             r"decoders\.maps\.head\.\w+ is \(112"):
        load_network_state(build_network(recipe.root, build, pipeline), tensors, path)


def test_resume_continues_the_same_loss_curve(host, recipe_file, straight, tmp_path):
    run_recipe(recipe_file, host, sets=["task.max_epochs=1"], output=str(tmp_path))
    first = json.loads((tmp_path / "training.json").read_text())
    assert len(first["loss"]) == 6 and first["epochs"][-1]["epoch"] == 1
    with pytest.raises(Exception, match="--resume"):
        run_recipe(recipe_file, host, output=str(tmp_path))
    run_recipe(recipe_file, host, sets=["task.resume=true"], output=str(tmp_path))
    resumed = json.loads((tmp_path / "training.json").read_text())
    reference = json.loads((straight / "training.json").read_text())
    assert resumed["steps"] == reference["steps"] == list(range(1, 13))
    np.testing.assert_allclose(resumed["loss"], reference["loss"], rtol=1e-3)
    np.testing.assert_allclose([e["landmark_px"] for e in resumed["epochs"]],
                               [e["landmark_px"] for e in reference["epochs"]], rtol=1e-3)
    a, *_ = _network_from_checkpoint(host, tmp_path / "checkpoints" / "last.safetensors")
    b, *_ = _network_from_checkpoint(host, straight / "checkpoints" / "last.safetensors")
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.allclose(x, y, atol=1e-4), name


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _gradients_of_one_step(rank: int, world: int, recipe_path: str, indices: list[int], out: str, port: int) -> None:
    """One training step of a photometric + landmark stage on ``indices`` (split between the processes)."""
    if world > 1:  # a spawned process: join the group torchrun would describe
        os.environ.update({"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank),
                           "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
        torch.set_num_threads(1)
    from facerecon.pipeline import FacePipeline
    from plugins.tasks.facesets import FaceSet
    from plugins.tasks.network import build_network
    from plugins.tasks.synthetic import synthetic_faces
    from plugins.tasks.train import TrainTask
    from plugins.tasks.training import Distributed, Trainer

    host = load_plugins()
    recipe = load_recipe(recipe_path, host.registry)
    build = Builder(host.registry, torch.device("cpu"), cache_dir(), recipe)
    dist = Distributed.start(torch.device("cpu"))
    try:
        torch.manual_seed(0)
        pipeline = FacePipeline(build("model"), build("light"), build("reflectance"), build("renderer"))
        network = build_network(recipe.root, build, pipeline)
        task = TrainTask(recipe.root.task.params, None)
        stages = task._prepare_stages(recipe.root.stages, build, pipeline, dist.rank)
        params = recipe.root.task.params
        faces: FaceSet = synthetic_faces(pipeline, pipeline.renderer, params.synthetic, max(indices) + 1, 7,
                                         params.image_size, params.crop_margin, None)
        mine = faces.subset(indices[rank::world])  # what DistributedSampler gives each process
        trainer = Trainer(network, pipeline, stages, params, dist)
        trainer.begin_stage(1, steps_per_epoch=1)
        trainer.train_mode()
        batch = next(iter(torch.utils.data.DataLoader(mine, batch_size=len(mine))))
        loss, _ = trainer.step(batch)
        if rank == 0:
            torch.save({"grads": {n: p.grad.clone() for n, p in network.named_parameters() if p.grad is not None},
                        "params": {n: p.detach().clone() for n, p in network.named_parameters()}}, out)
    finally:
        dist.close()


def test_two_processes_take_the_step_of_one_with_the_doubled_batch(recipe_file, tmp_path):
    text = recipe_file.read_text() + textwrap.indent(textwrap.dedent("""
        joint:
          steps: 1
          lr: 0.002
          free: [pose, focal, identity, expression, light, textures]
          losses:
            photo: {type: photometric, weight: 10.0}
            landmarks: {type: landmark, weight: 0.1}
    """), "  ")
    text = text.replace("precision: fp32", "precision: fp32\n  grad_clip: 0\n  freeze_batch_norm: true")
    path = tmp_path / "ddp.yaml"
    path.write_text(text)
    indices = [0, 1, 2, 3]
    import torch.multiprocessing as mp

    mp.spawn(_gradients_of_one_step, args=(2, str(path), indices, str(tmp_path / "two.pt"), _free_port()), nprocs=2)
    _gradients_of_one_step(0, 1, str(path), indices, str(tmp_path / "one.pt"), _free_port())
    two, one = torch.load(tmp_path / "two.pt"), torch.load(tmp_path / "one.pt")
    assert set(two["grads"]) == set(one["grads"]) and any(k.startswith("decoders.") for k in one["grads"])
    for name, grad in one["grads"].items():
        scale = grad.abs().max().clamp(min=1e-8)
        assert (two["grads"][name] - grad).abs().max() <= 2e-3 * scale + 1e-7, name
    # Adam's first update is lr·g/(|g| + eps): elements whose gradient is ~0 may move by ±lr either way.
    moved = torch.cat([(two["params"][n] - v).abs().flatten() for n, v in one["params"].items()])
    assert (moved > 1e-5).float().mean() < 1e-3 and moved.max() <= 2 * 0.002 + 1e-6


def test_reconstruct_writes_every_face_and_refinement_lowers_the_landmark_error(host, straight, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    image = astronaut()
    rotated = cv2.warpAffine(image, cv2.getRotationMatrix2D((256, 256), 10, 0.9), (512, 512), borderMode=cv2.BORDER_REFLECT)
    for name, picture in (("a", image), ("b", image[:, ::-1]), ("c", rotated)):
        cv2.imwrite(str(photos / f"{name}.png"), cv2.cvtColor(np.ascontiguousarray(picture), cv2.COLOR_RGB2BGR))
    (photos / "broken.png").write_bytes(b"not an image")
    recipe = tmp_path / "reconstruct.yaml"
    recipe.write_text(textwrap.dedent(f"""
        facerecon: 1
        task: {{type: reconstruct, checkpoint: {straight / 'checkpoints' / 'last.safetensors'}, batch_size: 2,
               image_size: 96, render_max_side: 128}}
        dataset: {{type: images}}
        face_detector: {{type: auto}}
        landmark_detector: {{type: dlib}}
        model: {{type: bfm-lite, texture_size: 16}}
        reflectance: {{type: cook-torrance}}
        light: {{type: sh, bands: 2}}
        renderer: {{type: rasterizer}}
        device: cpu
        stages:
          landmarks:
            steps: 40
            lr: 0.02
            free: [pose, focal, expression]
            losses:
              landmarks: {{type: landmark, weight: 1.0}}
              prior: {{type: gaussian-prior, weight: 1.0}}
        exporters:
          obj: {{type: obj}}
          params: {{type: params}}
          strip: {{type: render-strip}}
    """))
    summary = run_recipe(recipe, host, input=str(photos), output=str(tmp_path / "out"))
    assert sorted(r["face"] for r in summary.rows) == ["a", "b", "c"]
    assert [item for item, _ in summary.skipped] == ["broken"]
    for row in summary.rows:
        folder = tmp_path / "out" / row["face"]
        for name in ("mesh.obj", "diffuse.png", "params.json", "render.png", ".complete.json", "recipe.resolved.yaml"):
            assert (folder / name).exists(), (row["face"], name)
        assert row["landmark_error_iod"] < row["network_landmark_error_iod"], row
    params = json.loads((tmp_path / "out" / "a" / "params.json").read_text())
    assert len(params["coefficients"]["identity"]) == 40


def test_synthetic_sets_of_any_size_share_one_cache_folder(host, recipe_file):
    """The cache folder of a synthetic set depends on how faces are drawn and rendered, not on how many
    there are or the seed (the file's name): a larger set extends the cached smaller one."""
    from plugins.tasks.synthetic import set_key

    def key(*sets: str) -> str:
        recipe, pipeline = _recipe_pipeline(host, recipe_file, sets)
        params = recipe.root.task.params
        return set_key(pipeline, pipeline.renderer, params.synthetic, params.image_size, params.crop_margin)

    assert key() == key("task.synthetic.count=4096", "task.synthetic.validation=256", "task.synthetic.seed=5")
    assert key() != key("task.synthetic.jitter=0.1")


def test_rendering_a_synthetic_set_says_so_once(host, recipe_file, tmp_path, capsys):
    """Rendering takes minutes for a real set, and a log has no progress bar: one line says how many
    faces are rendered and where they are cached; a second call reads them and says nothing."""
    from plugins.tasks.synthetic import synthetic_faces

    recipe, pipeline = _recipe_pipeline(host, recipe_file)
    params = recipe.root.task.params
    arguments = (pipeline, pipeline.renderer, params.synthetic, 3, 11, params.image_size, params.crop_margin, tmp_path)
    first = synthetic_faces(*arguments, label="test faces")
    assert f"test faces: rendering 3 of 3 into {tmp_path / 'seed11.safetensors'}" in capsys.readouterr().out
    second = synthetic_faces(*arguments, label="test faces")
    assert capsys.readouterr().out == "" and torch.equal(first.images, second.images)


def _recipe_pipeline(host, recipe_file, sets=()):
    """(the validated recipe with ``sets``, its face pipeline) on the CPU."""
    from facerecon.pipeline import FacePipeline

    recipe = load_recipe(recipe_file, host.registry, list(sets), {})
    build = Builder(host.registry, torch.device("cpu"), cache_dir(), recipe)
    return recipe, FacePipeline(build("model"), build("light"), build("reflectance"), build("renderer"))
