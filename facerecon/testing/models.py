"""Contract suites of the learned/statistical kinds: morphable models, encoders, texture decoders."""
from __future__ import annotations

import torch

from ..interfaces import Textures
from ._base import ComponentContract, check_tensor

__all__ = ["MorphableModelContract", "EncoderContract", "TextureDecoderContract"]


class MorphableModelContract(ComponentContract):
    """Morphable models: shapes and dtypes, mm scale, model-frame axes, landmarks, symmetry.

    Provide ``component`` (the built model).
    """

    kind = "morphable_model"
    #: Share of vertices (and texels) whose mirror's mirror must be themselves.
    involution_share = 0.95

    def _coefficients(self, model, batch: int, scale: float = 0.0, seed: int = 0):
        gen = torch.Generator().manual_seed(seed)
        identity = torch.randn(batch, model.n_identity, generator=gen) * scale
        expression = torch.randn(batch, model.n_expression, generator=gen) * scale
        return identity.to(model.device), expression.to(model.device)

    def test_attributes(self, component):
        m, dev = component, component.device
        v = m.n_vertices
        assert v > 0 and m.n_identity >= 0 and m.n_expression >= 0 and m.n_albedo >= 0
        check_tensor(m.uvs, "uvs", (v, 2), torch.float32, dev)
        assert (m.uvs >= 0).all() and (m.uvs <= 1).all(), "uvs must lie in [0, 1]"
        check_tensor(m.faces, "faces", (m.faces.shape[0], 3), torch.long, dev)
        assert m.faces.shape[0] > 0 and m.faces.min() >= 0 and m.faces.max() < v, "faces must index vertices 0..V-1"
        check_tensor(m.landmarks, "landmarks", (68,), torch.long, dev)
        assert m.landmarks.min() >= 0 and m.landmarks.max() < v
        check_tensor(m.face_mask, "face_mask", (v,), torch.bool, dev)
        assert m.face_mask.any(), "face_mask selects no vertex"
        check_tensor(m.symmetry, "symmetry", (v,), torch.long, dev)
        t = m.texture_size
        check_tensor(m.texel_symmetry, "texel_symmetry", (t * t,), torch.long, dev)

    def test_shape(self, component):
        identity, expression = self._coefficients(component, 2, scale=1.0)
        vertices = component.shape(identity, expression)
        check_tensor(vertices, "shape()", (2, component.n_vertices, 3), torch.float32, component.device)

    def test_batch_items_independent(self, component):
        identity, expression = self._coefficients(component, 2, scale=1.0)
        both = component.shape(identity, expression)
        first = component.shape(identity[:1], expression[:1])
        assert torch.allclose(both[:1], first, atol=1e-3), "item 0 of a batch depends on item 1"

    def test_coefficients_change_the_shape(self, component):
        zero_id, zero_exp = self._coefficients(component, 1)
        mean = component.shape(zero_id, zero_exp)
        if component.n_identity:
            identity = zero_id.clone()
            identity[0, 0] = 1.0
            assert (component.shape(identity, zero_exp) - mean).abs().max() > 1e-3, "identity[0] = 1 std changes nothing"
        if component.n_expression:
            expression = zero_exp.clone()
            expression[0, 0] = 1.0
            assert (component.shape(zero_id, expression) - mean).abs().max() > 1e-3, "expression[0] = 1 std changes nothing"

    def test_millimetres_and_axes(self, component):
        """The mean face is head-sized in mm, y up, +z out of the face, subject's right eye at -x."""
        vertices = component.shape(*self._coefficients(component, 1))[0]
        face = vertices[component.face_mask]
        width = (face[:, 0].max() - face[:, 0].min()).item()
        assert 80 < width < 400, f"face width {width:.1f}: geometry must be in mm (BFM stores micrometres)"
        lm = vertices[component.landmarks]
        eyes_y, mouth_y = lm[36:48, 1].mean(), lm[48:68, 1].mean()
        assert eyes_y > mouth_y, "y must point up: the eyes should be above the mouth"
        right_eye_x, left_eye_x = lm[36:42, 0].mean(), lm[42:48, 0].mean()
        assert right_eye_x < left_eye_x, "landmarks 36-41 (subject's right eye) should have smaller x than 42-47"
        assert lm[30, 2] > lm[36:48, 2].mean(), "+z must point out of the face: the nose tip should be in front of the eyes"

    def test_symmetry_is_a_mirror(self, component):
        sym, v = component.symmetry, component.n_vertices
        assert sym.min() >= 0 and sym.max() < v
        back = (sym[sym] == torch.arange(v, device=sym.device)).float().mean().item()
        assert back >= self.involution_share, f"symmetry[symmetry[i]] == i for only {back:.1%} of vertices"
        vertices = component.shape(*self._coefficients(component, 1))[0]
        mirrored = vertices[sym] * vertices.new_tensor([-1.0, 1.0, 1.0])
        centre_x = vertices[:, 0].mean()
        error = (mirrored - vertices + vertices.new_tensor([2 * centre_x, 0.0, 0.0])).norm(dim=-1).median().item()
        width = (vertices[:, 0].max() - vertices[:, 0].min()).item()
        assert error < 0.05 * width, f"mirror vertices are {error:.2f} mm from the mirrored positions (median)"

    def test_texel_symmetry(self, component):
        t = component.texture_size
        sym = component.texel_symmetry
        assert sym.min() >= 0 and sym.max() < t * t
        back = (sym[sym] == torch.arange(t * t, device=sym.device)).float().mean().item()
        assert back >= self.involution_share, f"texel_symmetry is an involution for only {back:.1%} of texels"

    def test_textures(self, component):
        t, dev = component.texture_size, component.device
        albedo = None if component.n_albedo == 0 else torch.zeros(2, component.n_albedo, device=dev)
        tex = component.textures(albedo, 2)
        assert isinstance(tex, Textures)
        check_tensor(tex.diffuse, "diffuse", (2, t, t, 3), torch.float32, dev)
        check_tensor(tex.specular, "specular", (2, t, t, 3), torch.float32, dev)
        check_tensor(tex.roughness, "roughness", (2, t, t, 1), torch.float32, dev)
        assert tex.diffuse.min() >= 0 and tex.diffuse.max() <= 1, "the mean diffuse albedo should lie in [0, 1]"
        assert tex.roughness.min() > 0 and tex.roughness.max() <= 1, "roughness should lie in (0, 1]"

    def test_differentiable(self, component):
        identity, expression = (c.clone().requires_grad_() for c in self._coefficients(component, 1, scale=0.5))
        component.shape(identity, expression).pow(2).mean().backward()
        for name, c in (("identity", identity), ("expression", expression)):
            if c.shape[1]:
                assert c.grad is not None and c.grad.abs().sum() > 0, f"shape() is not differentiable w.r.t. {name}"


class EncoderContract(ComponentContract):
    """Encoders: (B, H, W, 3) crops in [0, 1] -> (B, D) latents, trainable.

    Provide ``component`` (keep it small in tests: a small backbone and input size).
    """

    kind = "encoder"

    def _images(self, component, batch: int = 2) -> torch.Tensor:
        gen = torch.Generator().manual_seed(0)
        s = component.input_size
        return torch.rand(batch, s, s, 3, generator=gen).to(component.device)

    def test_encode(self, component):
        assert isinstance(component.input_size, int) and component.input_size > 0
        assert isinstance(component.out_features, int) and component.out_features > 0
        component.module().eval()
        with torch.no_grad():
            latent = component.encode(self._images(component))
        check_tensor(latent, "encode()", (2, component.out_features), torch.float32, component.device)
        assert (latent[0] - latent[1]).abs().max() > 0, "different images gave the same latent"

    def test_module_is_trainable(self, component):
        module = component.module()
        assert isinstance(module, torch.nn.Module)
        module.train()
        component.encode(self._images(component)).pow(2).mean().backward()
        grads = [p.grad for p in module.parameters() if p.requires_grad]
        assert grads and any(g is not None and g.abs().sum() > 0 for g in grads), "no gradient reaches the module"
        assert all(g is None or torch.isfinite(g).all() for g in grads)
        module.zero_grad(set_to_none=True)


class TextureDecoderContract(ComponentContract):
    """Texture decoders: (B, D) latents -> (B, T, T, C) maps that start near zero and train.

    Provide ``component`` (the built decoder); ``size``, ``channels`` and ``in_features`` set the
    network the suite builds (keep them small).
    """

    kind = "texture_decoder"
    size = 32
    channels = 3
    in_features = 16
    #: Largest |value| an untrained network may output (its maps are added to statistical ones).
    initial_tolerance = 0.05

    def _network(self, component):
        torch.manual_seed(0)
        network = component.network(self.in_features, self.size, self.channels)
        assert isinstance(network, torch.nn.Module), "network() should return a torch.nn.Module"
        return network

    def _latents(self, component, batch: int = 2) -> torch.Tensor:
        gen = torch.Generator().manual_seed(0)
        return torch.randn(batch, self.in_features, generator=gen).to(component.device)

    def test_shape_and_start(self, component):
        network = self._network(component).eval()
        with torch.no_grad():
            maps = network(self._latents(component))
        check_tensor(maps, "network(latent)", (2, self.size, self.size, self.channels), torch.float32, component.device)
        assert maps.abs().max() <= self.initial_tolerance, (
            f"an untrained decoder outputs up to {maps.abs().max():.3g}; it should start near 0 "
            f"(<= {self.initial_tolerance}) so the statistical maps are unchanged")

    def test_trainable_and_latent_dependent(self, component):
        network = self._network(component).train()
        latents = self._latents(component)
        optimiser = torch.optim.Adam(network.parameters(), lr=1e-2)
        target = torch.linspace(-0.2, 0.2, self.size, device=component.device)[None, :, None, None]
        for _ in range(3):  # a few steps move the output towards a target, and the latent matters
            optimiser.zero_grad()
            loss = (network(latents) - target).pow(2).mean()
            loss.backward()
            grads = [p.grad for p in network.parameters() if p.requires_grad]
            assert any(g is not None and g.abs().sum() > 0 for g in grads), "no gradient reaches the decoder"
            optimiser.step()
        assert (network(latents) - target).pow(2).mean() < loss, "training steps did not lower a simple loss"
        with torch.no_grad():
            maps = network.eval()(latents)
        assert (maps[0] - maps[1]).abs().max() > 0, "different latents gave the same map"

    def test_batch_items_independent(self, component):
        network = self._network(component).eval()
        latents = self._latents(component, 3)
        with torch.no_grad():
            both, first = network(latents), network(latents[:1])
        assert torch.allclose(both[:1], first, atol=1e-5), "item 0 of a batch depends on the others (eval mode)"
