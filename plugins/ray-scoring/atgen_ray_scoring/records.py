"""Shard contents as Parquet bytes: generations (one row per id and sample) or embeddings (one row per id).

Per-token scores are variable-length ``list<float64>`` columns, so every float round-trips bit for bit
and outputs of different lengths need no padding. Embeddings are ``list<float32>`` rows of one width.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

from atgen_core import Generation

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

__all__ = [
    "ShardFormatError",
    "embeddings_from_parquet",
    "embeddings_to_parquet",
    "generations_from_parquet",
    "generations_to_parquet",
]


class ShardFormatError(ValueError):
    """A shard file does not hold what its name promises (other ids, a missing sample, a bad file)."""


def _to_bytes(table: pa.Table) -> bytes:
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def _read(data: bytes) -> pa.Table:
    import pyarrow.parquet as pq

    try:
        return pq.read_table(io.BytesIO(data))
    except Exception as exc:  # pyarrow raises several types for a truncated or foreign file
        raise ShardFormatError(f"not a readable shard ({type(exc).__name__}: {exc})") from exc


def generations_to_parquet(ids: Sequence[str], outputs: Sequence[Sequence[Generation]]) -> bytes:
    """``outputs[i]`` are the generations of ``ids[i]`` (one for generate, n for sample)."""
    import pyarrow as pa

    if len(ids) != len(outputs):
        raise ValueError(f"{len(ids)} ids but {len(outputs)} output lists")
    row_ids: list[str] = []
    samples: list[int] = []
    texts: list[str] = []
    logprobs: list[list[float]] = []
    entropies: list[list[float]] = []
    for id_, gens in zip(ids, outputs):
        for j, gen in enumerate(gens):
            row_ids.append(id_)
            samples.append(j)
            texts.append(gen.text)
            logprobs.append([float(v) for v in gen.token_logprobs])
            entropies.append([float(v) for v in gen.token_entropies])
    table = pa.table(
        {
            "id": pa.array(row_ids, pa.string()),
            "sample": pa.array(samples, pa.int32()),
            "text": pa.array(texts, pa.string()),
            "token_logprobs": pa.array(logprobs, pa.list_(pa.float64())),
            "token_entropies": pa.array(entropies, pa.list_(pa.float64())),
        }
    )
    return _to_bytes(table)


def generations_from_parquet(data: bytes, ids: Sequence[str], per_id: int) -> list[list[Generation]]:
    """The generations stored in ``data``, checked to be exactly ``per_id`` outputs for each of ``ids``."""
    table = _read(data)
    needed = {"id", "sample", "text", "token_logprobs", "token_entropies"}
    if not needed.issubset(table.column_names):
        raise ShardFormatError(f"columns {sorted(table.column_names)} lack {sorted(needed - set(table.column_names))}")
    cols = table.to_pydict()
    found: dict[str, dict[int, Generation]] = {}
    for id_, j, text, lps, ents in zip(
        cols["id"], cols["sample"], cols["text"], cols["token_logprobs"], cols["token_entropies"]
    ):
        gen = Generation(text=text, token_logprobs=tuple(lps), token_entropies=tuple(ents))
        found.setdefault(id_, {})[int(j)] = gen
    if set(found) != set(ids) or len(found) != len(ids):
        raise ShardFormatError(f"holds ids {sorted(found)[:3]}... but the shard plan expects {list(ids)[:3]}...")
    out: list[list[Generation]] = []
    for id_ in ids:
        by_sample = found[id_]
        if sorted(by_sample) != list(range(per_id)):
            raise ShardFormatError(f"id {id_!r} has outputs {sorted(by_sample)}, expected {per_id}")
        out.append([by_sample[j] for j in range(per_id)])
    return out


def embeddings_to_parquet(ids: Sequence[str], matrix: np.ndarray) -> bytes:
    """One float32 row per id."""
    import numpy as np
    import pyarrow as pa

    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[0] != len(ids):
        raise ValueError(f"expected a matrix with {len(ids)} rows, got shape {matrix.shape}")
    flat = pa.array(matrix.reshape(-1), pa.float32())
    vectors = pa.FixedSizeListArray.from_arrays(flat, int(matrix.shape[1])) if matrix.shape[1] else pa.array(
        [[] for _ in ids], pa.list_(pa.float32())
    )
    return _to_bytes(pa.table({"id": pa.array(list(ids), pa.string()), "embedding": vectors}))


def embeddings_from_parquet(data: bytes, ids: Sequence[str]) -> np.ndarray:
    """The rows stored in ``data`` in the order of ``ids``."""
    import numpy as np

    table = _read(data)
    if not {"id", "embedding"}.issubset(table.column_names):
        raise ShardFormatError(f"columns {sorted(table.column_names)} are not an embedding shard")
    stored = table.column("id").to_pylist()
    if stored != list(ids):
        raise ShardFormatError(f"holds ids {stored[:3]}... but the shard plan expects {list(ids)[:3]}...")
    rows = table.column("embedding").to_pylist()
    return np.asarray(rows, dtype=np.float32).reshape(len(ids), -1)
