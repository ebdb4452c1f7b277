"""facerecon: plugin-based monocular 3D face reconstruction.

Public API for plugin authors:

- :data:`hookimpl` to mark ``facerecon_register_components(registry)``;
- :func:`facerecon.params.param` to declare documented parameters (with limits), and
  :class:`~facerecon.params.ParamError` for rules across fields;
- :data:`~facerecon.params.GroupName` for parameters naming optimisable parameter groups;
- the interfaces in :mod:`facerecon.interfaces` (one module per component kind);
- the contract test suites in :mod:`facerecon.testing`.
"""
from .hookspecs import hookimpl
from .params import REQUIRED, Component, GroupName, ParamError, param

__version__ = "0.1.0"
__all__ = ["hookimpl", "param", "Component", "GroupName", "ParamError", "REQUIRED", "__version__"]
