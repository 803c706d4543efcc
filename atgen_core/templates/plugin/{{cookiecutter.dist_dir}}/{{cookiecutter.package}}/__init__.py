"""{{ cookiecutter.dist_name }}: {{ cookiecutter.description }}"""

from __future__ import annotations

__version__ = "0.1.0"
