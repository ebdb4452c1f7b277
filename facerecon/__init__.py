"""facerecon: plugin-based monocular 3D face reconstruction.

Public API for plugin authors:

- :data:`hookimpl` to mark ``facerecon_register_components(registry)``;
- :func:`facerecon.params.param` to declare documented parameters;
- the interfaces in :mod:`facerecon.interfaces` (one module per component kind);
- the contract test suites in :mod:`facerecon.testing`.
"""
from .hookspecs import hookimpl
from .params import REQUIRED, Component, param

__version__ = "0.1.0"
__all__ = ["hookimpl", "param", "Component", "REQUIRED", "__version__"]
