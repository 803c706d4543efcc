"""Configuration of the ``facility-location`` strategy (every field validated and described)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from atgen_core import PluginConfig

Similarity = Literal["shifted-cosine", "clipped-cosine"]
Mode = Literal["auto", "exact", "sparse"]
KnnSearch = Literal["auto", "exact", "ivf"]
KnnBackend = Literal["auto", "numpy", "faiss"]
FillOrder = Literal["id", "random"]
Precision = Literal["float32", "float64"]


class FacilityLocationConfig(PluginConfig):
    """Options of ``facility-location``."""

    similarity: Similarity = Field(
        "shifted-cosine",
        description="Non-negative similarity of two embeddings: 'shifted-cosine' = (1 + cos)/2 in [0, 1] "
        "(every pair counts a little), 'clipped-cosine' = max(0, cos) (dissimilar pairs count zero).",
    )
    mode: Mode = Field(
        "auto",
        description="'exact': the full objective, similarities computed in memory-bounded blocks "
        "(O(N^2 d) time, O(N d) memory); 'sparse': gains come only from each client's `n_neighbors` most "
        "similar candidates (an approximation, much faster for large pools); 'auto': exact up to "
        "`auto_sparse_above` candidates, sparse above.",
    )
    auto_sparse_above: int = Field(
        30_000, ge=1, description="With mode 'auto', pools with more distinct candidates than this use sparse mode."
    )
    n_neighbors: int = Field(
        10,
        ge=1,
        description="Sparse mode: similarities kept per client (its top-n candidates, itself included). "
        "With n_neighbors >= the number of candidates sparse mode equals exact mode.",
    )
    exact_coverage: bool = Field(
        True,
        description="Sparse mode: after each pick, raise every client's coverage to its true similarity "
        "with the pick (one matrix-vector product per pick) instead of only the clients that list it. "
        "Gains still come from neighbour lists only; this stops clients outside the pick's lists from "
        "looking uncovered (large clusters), at a cost of O(N d) per pick.",
    )
    knn: KnnSearch = Field(
        "auto",
        description="Sparse mode neighbour search: 'exact' (blocked brute force, O(N^2 d)), 'ivf' "
        "(approximate: spherical k-means lists, each client searches its `n_probe` nearest lists), "
        "'auto' = exact up to `exact_knn_max` candidates, ivf above.",
    )
    exact_knn_max: int = Field(
        4096, ge=1, description="With knn 'auto', the largest candidate count searched exactly."
    )
    knn_backend: KnnBackend = Field(
        "numpy",
        description="Library for the neighbour search: 'numpy', 'faiss' (needs the 'faiss' extra: "
        "pip install atgen-facility-location[faiss]; float32 only) or 'auto' = faiss when importable and "
        "precision is float32, else numpy. The default 'numpy' gives results that do not depend on "
        "what is installed (and was faster than faiss on the 2-core benchmark machine).",
    )
    n_lists: int | None = Field(
        None,
        ge=1,
        description="IVF search: number of k-means lists; null = about sqrt(candidates), at most 4096.",
    )
    n_probe: int = Field(4, ge=1, description="IVF search: lists each client searches (more = closer to exact).")
    kmeans_iterations: int = Field(8, ge=1, le=100, description="IVF search: Lloyd iterations of the list k-means.")
    block_size: int = Field(
        4_194_304,
        ge=4096,
        description="Largest number of similarity values held at once (blocks of clients x candidates, "
        "4 bytes each in float32): 4194304 is about 16 MB per block. Bounds memory in every mode.",
    )
    kernel_memory_mb: int = Field(
        2048,
        ge=0,
        description="Exact mode: when the candidates x clients cosine matrix fits in this many MB (float32: "
        "4 bytes a value, e.g. 1526 MB for 20,000 inputs), it is computed once (symmetric blocks) and "
        "gains are read from it; above, similarities are recomputed in blocks of `block_size` with the "
        "near lists of `cache_entries`. 0 never keeps it. The selection does not depend on it.",
    )
    cache_entries: int = Field(
        33_554_432,
        ge=0,
        description="Exact mode: at most this many (client, cosine) pairs are kept in near lists so that "
        "gains can be bounded, and often recomputed exactly, without a matrix product (8 bytes each: "
        "33554432 is about 270 MB). Larger = fewer matrix products; 0 disables the lists. The "
        "selection does not depend on it.",
    )
    include_labelled_as_clients: bool = Field(
        False,
        description="Clients (the points to be represented) are the pool; true adds the labelled inputs. "
        "With `condition_on_labelled` a labelled client is already covered by itself, so this only "
        "changes the selection when `condition_on_labelled` is false.",
    )
    condition_on_labelled: bool = Field(
        True,
        description="Count the labelled set as already chosen (maximise f(S u L) - f(L)), so each round "
        "picks what the labelled set does not yet represent. False ignores the labelled set except "
        "that it is never picked.",
    )
    stochastic: bool = Field(
        False,
        description="Stochastic ('lazier than lazy') greedy: each step considers a random subset of "
        "(N/k) ln(1/epsilon) candidates; faster, (1 - 1/e - epsilon) guarantee in expectation, "
        "reproducible given the run seed and round.",
    )
    epsilon: float = Field(0.01, gt=0, lt=1, description="Stochastic greedy's epsilon (smaller = larger subsets).")
    fill_order: FillOrder = Field(
        "id",
        description="Once every remaining candidate has zero gain (duplicates of chosen or labelled "
        "inputs), the batch is completed in this order: 'id' (ascending ids) or 'random' (the round's "
        "seeded generator). Non-duplicates always come before duplicates.",
    )
    precision: Precision = Field(
        "float32",
        description="Floating type of the similarity computations; float64 doubles memory and time but "
        "makes near-ties between gains far less likely to depend on rounding.",
    )
