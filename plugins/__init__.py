"""Built-in plugins. Each sub-package registers its components through the same
``facerecon_register_components`` hook a third-party distribution uses."""
