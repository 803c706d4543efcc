"""A scoring job run as its own process (so that a test can kill it): ``python ray_scoring_job.py '<json>'``.

The JSON names the backend, its config and the request (ids, prompts, run_dir, fake trainer config).
Prints "done" when the job finished.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ray_scoring_helpers import request

from atgen_core import GenerationSettings


def main(raw: str) -> None:
    args = json.loads(raw)
    from atgen_ray_scoring.local import LocalScoring
    from atgen_ray_scoring.ray_backend import RayScoring

    cls = {"local": LocalScoring, "ray": RayScoring}[args["backend"]]
    backend = cls(cls.Config.model_validate(args["config"]))
    req = request(
        args["ids"], args["prompts"], run_dir=Path(args["run_dir"]), trainer_config=args["trainer_config"],
        settings=GenerationSettings(**args["settings"]),
    )
    try:
        backend.generate(req)
    finally:
        backend.close()
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
