"""redner's Cook-Torrance as a Mitsuba 3 BSDF written in Dr.Jit (``facerecon_redner``).

The formulas are exactly :mod:`plugins.reflectance.cook_torrance`'s, evaluated per
shading point from bitmap textures (diffuse ρd, specular ρs: RGB; roughness r: one channel):

    f·cos = ρd·cos_l/π + F·D·G/(4·cos_v)        (cos_l, cos_v > 0; else the lobe is 0)
    m = normalize(l + v), e = max(2/r − 2, 0), D = (n·m)^e·(e + 2)/(2π),
    G = G1(l)·G1(v) (rational Beckmann), F = ρs + (1 − ρs)(1 − |m·v|)^5,

with r clamped to [min_roughness, 1] and the same small-value guards as the torch code. In
Mitsuba's names ``si.wi`` is v (towards the viewer) and ``wo`` is l (towards the light); the
returned value includes the cosine, as Mitsuba's ``BSDF.eval`` must. With ``lambertian`` only
the diffuse term is kept (our ``lambertian`` reflectance).

Sampling: a one-sample mixture of a cosine-weighted hemisphere (diffuse) and the normalised
Blinn-Phong half-vector distribution, pdf(m) = D(m)·(n·m), reflected about m (specular), picked
with probability ``p_spec = clamp(mean ρs / (mean ρs + mean ρd), 0.1, 0.9)`` (0 for Lambert);
``pdf`` is the mixture density, so Mitsuba's MIS with the environment map stays unbiased.
One-sided: zero where the viewer is below the shading normal.
"""
from __future__ import annotations

import math

__all__ = ["PLUGIN_NAME", "register_bsdf"]

#: Name of the BSDF plugin in Mitsuba's registry.
PLUGIN_NAME = "facerecon_redner"

#: Same guards as plugins.reflectance.specular_lobe.
_EPS = 1e-7

_registered: set[str] = set()


def register_bsdf(mi, dr) -> str:
    """Register the BSDF class for the current Mitsuba variant (once per variant); return its name."""
    variant = mi.variant()
    if variant not in _registered:
        cls = _make_class(mi, dr)
        mi.register_bsdf(PLUGIN_NAME, lambda props: cls(props))
        _registered.add(variant)
    return PLUGIN_NAME


def _make_class(mi, dr):
    """The BSDF class, built against the current variant's ``mi.BSDF``."""

    def smith_g1(cos_theta, roughness):
        c = dr.clip(cos_theta, _EPS, 1.0)
        sin_theta = dr.sqrt(dr.maximum(1.0 - c * c, 1e-12))
        a = c / (dr.sqrt(roughness) * sin_theta)
        g1 = (3.535 * a + 2.181 * a * a) / (1.0 + 2.276 * a + 2.577 * a * a)
        return dr.select(a >= 1.6, 1.0, g1)

    class RednerCookTorrance(mi.BSDF):
        """Lambert + normalised Blinn-Phong / Smith-Beckmann / Schlick (module docstring).

        Properties: ``diffuse``, ``specular`` (RGB textures), ``roughness`` (1-channel texture),
        ``min_roughness`` (float), ``lambertian`` (bool: diffuse term only).
        """

        def __init__(self, props):
            mi.BSDF.__init__(self, props)
            self.diffuse = props.get("diffuse")
            self.specular = props.get("specular")
            self.roughness = props.get("roughness")
            self.min_roughness = float(props.get("min_roughness", 1e-3))
            self.lambertian = bool(props.get("lambertian", False))
            diffuse_flags = mi.BSDFFlags.DiffuseReflection | mi.BSDFFlags.FrontSide
            glossy_flags = mi.BSDFFlags.GlossyReflection | mi.BSDFFlags.FrontSide
            self.m_components = [diffuse_flags] if self.lambertian else [diffuse_flags, glossy_flags]
            self.m_flags = diffuse_flags if self.lambertian else diffuse_flags | glossy_flags

        # -- textures and lobes ------------------------------------------------------------------

        def _maps(self, si, active):
            rho_d = self.diffuse.eval(si, active)
            if self.lambertian:
                return rho_d, None, None
            rho_s = self.specular.eval(si, active)
            r = dr.clip(self.roughness.eval_1(si, active), self.min_roughness, 1.0)
            return rho_d, rho_s, r

        @staticmethod
        def _exponent(r):
            return dr.maximum(2.0 / r - 2.0, 0.0)

        def _p_spec(self, rho_d, rho_s):
            if self.lambertian:
                return mi.Float(0.0)
            mean_s = (rho_s.x + rho_s.y + rho_s.z) * (1.0 / 3.0)
            mean_d = (rho_d.x + rho_d.y + rho_d.z) * (1.0 / 3.0)
            return dr.clip(mean_s / dr.maximum(mean_s + mean_d, 1e-6), 0.1, 0.9)

        def _value(self, v, l, rho_d, rho_s, r):
            """f·cos_l for local directions v (viewer) and l (light)."""
            cos_v, cos_l = v.z, l.z
            diffuse = rho_d * (dr.maximum(cos_l, 0.0) * (1.0 / math.pi))
            if self.lambertian:
                return dr.select(cos_v > 0.0, diffuse, 0.0)
            m = dr.normalize(l + v)
            cos_m = dr.maximum(m.z, 1e-8)
            e = self._exponent(r)
            d = dr.power(cos_m, e) * (e + 2.0) * (1.0 / (2.0 * math.pi))
            g = smith_g1(cos_l, r) * smith_g1(cos_v, r)
            schlick = dr.power(dr.maximum(1.0 - dr.abs(dr.dot(m, v)), 0.0), 5)
            fresnel = rho_s + (1.0 - rho_s) * schlick
            spec = fresnel * (d * g / (4.0 * dr.maximum(cos_l, _EPS) * dr.maximum(cos_v, _EPS)) * cos_l)
            front = (cos_l > 0.0) & (cos_v > 0.0)
            return dr.select(front, diffuse + spec, 0.0)

        def _pdf(self, v, l, r, p_spec):
            cos_l = l.z
            pdf = (1.0 - p_spec) * dr.maximum(cos_l, 0.0) * (1.0 / math.pi)
            if self.lambertian:
                return dr.select((cos_l > 0.0) & (v.z > 0.0), pdf, 0.0)
            m = dr.normalize(l + v)
            cos_m = dr.maximum(m.z, 1e-8)
            e = self._exponent(r)
            pdf_m = dr.power(cos_m, e + 1.0) * (e + 2.0) * (1.0 / (2.0 * math.pi))
            pdf = pdf + p_spec * pdf_m / (4.0 * dr.maximum(dr.abs(dr.dot(v, m)), 1e-8))
            return dr.select((cos_l > 0.0) & (v.z > 0.0), pdf, 0.0)

        # -- mitsuba.BSDF interface --------------------------------------------------------------

        def eval(self, ctx, si, wo, active=True):
            rho_d, rho_s, r = self._maps(si, active)
            return self._value(si.wi, wo, rho_d, rho_s, r) & active

        def pdf(self, ctx, si, wo, active=True):
            rho_d, rho_s, r = self._maps(si, active)
            return self._pdf(si.wi, wo, r, self._p_spec(rho_d, rho_s)) & active

        def eval_pdf(self, ctx, si, wo, active=True):
            rho_d, rho_s, r = self._maps(si, active)
            value = self._value(si.wi, wo, rho_d, rho_s, r)
            pdf = self._pdf(si.wi, wo, r, self._p_spec(rho_d, rho_s))
            return value & active, pdf & active

        def sample(self, ctx, si, sample1, sample2, active=True):
            v = si.wi
            active = mi.Bool(active) & (v.z > 0.0)
            rho_d, rho_s, r = self._maps(si, active)
            p_spec = self._p_spec(rho_d, rho_s)
            wo = mi.warp.square_to_cosine_hemisphere(sample2)
            pick_spec = mi.Bool(False)
            if not self.lambertian:
                pick_spec = sample1 < p_spec
                e = self._exponent(r)
                cos_m = dr.power(1.0 - sample2.x, 1.0 / (e + 2.0))
                sin_m = dr.sqrt(dr.maximum(1.0 - cos_m * cos_m, 0.0))
                sin_phi, cos_phi = dr.sincos(2.0 * math.pi * sample2.y)
                m = mi.Vector3f(sin_m * cos_phi, sin_m * sin_phi, cos_m)
                reflected = 2.0 * dr.dot(v, m) * m - v
                wo = dr.select(pick_spec, reflected, wo)
            bs = dr.zeros(mi.BSDFSample3f)
            bs.wo = wo
            bs.pdf = self._pdf(v, wo, r, p_spec)
            bs.eta = 1.0
            bs.sampled_type = dr.select(pick_spec, mi.UInt32(+mi.BSDFFlags.GlossyReflection),
                                        mi.UInt32(+mi.BSDFFlags.DiffuseReflection))
            bs.sampled_component = dr.select(pick_spec, mi.UInt32(1), mi.UInt32(0))
            active &= (bs.pdf > 0.0) & (wo.z > 0.0)
            value = self._value(v, wo, rho_d, rho_s, r) / dr.maximum(bs.pdf, 1e-20)
            return bs, value & active

        def traverse(self, callback):
            callback.put("diffuse", self.diffuse, mi.ParamFlags.Differentiable)
            if not self.lambertian:
                callback.put("specular", self.specular, mi.ParamFlags.Differentiable)
                callback.put("roughness", self.roughness, mi.ParamFlags.Differentiable)

        def parameters_changed(self, keys):
            pass

        def to_string(self):
            return f"RednerCookTorrance[lambertian={self.lambertian}, min_roughness={self.min_roughness}]"

    return RednerCookTorrance
