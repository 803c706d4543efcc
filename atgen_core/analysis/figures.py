"""Learning-curve figures (matplotlib, optional): mean over seeds with a band of one sample sd."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["curve_file", "plot_curves"]


def curve_file(key: str) -> str:
    """File name of a metric's figure."""
    return f"curve-{re.sub(r'[^A-Za-z0-9_-]+', '_', key)}.png"


def plot_curves(summary: Mapping[str, Any], keys: Sequence[str], output: Path) -> bool:
    """One PNG per metric; False (and nothing written) when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    baseline = summary["baseline"]
    for key in keys:
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for label, entry in summary["strategies"].items():
            curve = entry["metrics"].get(key)
            if not curve or not curve["labels"]:
                continue
            xs, mean, sd = np.array(curve["labels"]), np.array(curve["mean"]), np.array(curve["sd"])
            style: dict[str, Any] = {"linestyle": "--", "color": "black", "zorder": 3} if label == baseline else {}
            ax.plot(xs, mean, marker="o", label=f"{label} (n={len(entry['seeds'])})", **style)
            ax.fill_between(xs, mean - sd, mean + sd, alpha=0.15, color=style.get("color"), linewidth=0)
        ax.set_xlabel("labelled examples")
        ax.set_ylabel(key)
        ax.set_title(f"{key}: mean over seeds, band ±1 sample sd (ddof=1)", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(output / curve_file(key), dpi=110)
        plt.close(fig)
    return True
