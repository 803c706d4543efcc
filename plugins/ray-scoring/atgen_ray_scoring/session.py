"""Connecting to Ray: reuse this process's connection, start a private local cluster, or join one by address."""

from __future__ import annotations

import importlib.util
import logging
import os
from typing import Any

from atgen_ray_scoring.config import RayClusterFields

__all__ = ["RaySession", "require_ray"]

log = logging.getLogger("atgen.scoring")

RAY_INSTALL = "pip install 'atgen-ray-scoring[ray]'  (or: pip install 'ray[data]')"


def require_ray(what: str = "the 'ray' scoring backend") -> None:
    """Raise an ImportError naming the install command when Ray Data is not importable."""
    if importlib.util.find_spec("ray") is None:
        raise ImportError(f"{what} needs Ray Data, which is not installed; install it with: {RAY_INSTALL}")


class RaySession:
    """The Ray connection of one backend instance. ``close()`` shuts down only a cluster it started."""

    def __init__(self, config: RayClusterFields) -> None:
        self.config = config
        self.owned = False
        self.address: str | None = None

    def init_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of ``ray.init`` for this configuration."""
        cfg = self.config
        kwargs: dict[str, Any] = {"namespace": cfg.namespace, "runtime_env": cfg.runtime_env}
        if cfg.address is None:
            kwargs.update(address="local", include_dashboard=False, num_cpus=cfg.num_cpus)
            if cfg.object_store_mb is not None:
                kwargs["object_store_memory"] = cfg.object_store_mb * 1024 * 1024
            if cfg.temp_dir is not None:
                kwargs["_temp_dir"] = cfg.temp_dir
        else:
            kwargs["address"] = cfg.address
        if not cfg.show_progress:
            kwargs.update(log_to_driver=False, logging_level=logging.WARNING)
        return {k: v for k, v in kwargs.items() if v is not None}

    def ensure(self) -> None:
        """Connect (once). A connection this process already has is reused and left open on close."""
        require_ray()
        import ray

        if not ray.is_initialized():
            # A private cluster reports nothing home unless the user asked for it.
            if self.config.address is None:
                os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            context: Any = ray.init(**self.init_kwargs())
            self.owned = True
            self.address = str(getattr(context, "address_info", {}).get("address") or "")
            log.info("ray: %s cluster at %s", "started a private" if self.config.address is None else "joined the",
                     self.address)
        import ray.data

        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = self.config.show_progress
        if not self.config.show_progress:
            logging.getLogger("ray.data").setLevel(logging.WARNING)

    def close(self) -> None:
        """Shut down the cluster if this session started it."""
        if self.owned:
            import ray

            ray.shutdown()
            self.owned = False
