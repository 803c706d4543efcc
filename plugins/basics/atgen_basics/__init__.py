"""atgen's built-in components, registered through the ``atgen`` entry-point group like any plugin."""

__version__ = "0.1.0"
