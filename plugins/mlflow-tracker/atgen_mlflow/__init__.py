"""atgen-mlflow: the ``mlflow`` tracker (one MLflow run per atgen run, resumable)."""

from __future__ import annotations

__version__ = "0.1.0"
