"""A KV cache whose full-attention layers keep spare room, so decoding appends in place.

transformers' ``DynamicLayer`` concatenates the whole cache with the new token at every step (a new
allocation and a full copy per layer per token). ``SpareRoomLayer`` keeps a buffer with room for
``reserve`` more tokens and writes each new key/value into it; attention reads a view of the filled
part. Imported lazily (it subclasses a transformers class).
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

__all__ = ["SpareRoomLayer", "decoding_cache"]


class SpareRoomLayer(DynamicLayer):
    """A full-attention cache layer that grows by writing into a pre-allocated buffer."""

    def __init__(self, reserve: int) -> None:
        super().__init__()
        self.reserve = max(1, reserve)
        self.length = 0
        self._keys: torch.Tensor | None = None
        self._values: torch.Tensor | None = None

    def _refresh(self) -> None:
        assert self._keys is not None and self._values is not None
        self.keys = self._keys[:, :, : self.length, :]
        self.values = self._values[:, :, : self.length, :]

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        end = self.length + key_states.shape[-2]
        if self._keys is None or self._values is None or end > self._keys.shape[-2]:
            batch, heads, _, dim = key_states.shape
            keys = key_states.new_empty((batch, heads, end + self.reserve, dim))
            values = value_states.new_empty((batch, value_states.shape[1], end + self.reserve, value_states.shape[-1]))
            if self.length and self._keys is not None and self._values is not None:
                keys[:, :, : self.length] = self._keys[:, :, : self.length]
                values[:, :, : self.length] = self._values[:, :, : self.length]
            self._keys, self._values = keys, values
        self._keys[:, :, self.length : end] = key_states
        self._values[:, :, self.length : end] = value_states
        self.length = end
        self._refresh()
        return self.keys, self.values  # type: ignore[return-value]

    def get_seq_length(self) -> int:
        return self.length if self.is_initialized else 0

    def _select(self, index: torch.Tensor) -> None:
        if self.length and self._keys is not None and self._values is not None:
            self._keys = self._keys.index_select(0, index.to(self._keys.device))
            self._values = self._values.index_select(0, index.to(self._values.device))
            self._refresh()

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        self._select(beam_idx)

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        self._select(indices)

    def batch_repeat_interleave(self, repeats: int) -> None:
        if self._keys is not None:
            self._select(torch.arange(self._keys.shape[0], device=self._keys.device).repeat_interleave(repeats))

    def crop(self, tokens_to_remove: int) -> None:
        if tokens_to_remove > 0:
            raise ValueError("crop: pass a negative number of tokens to remove")
        if tokens_to_remove and self.length:
            self.length = max(0, self.length + tokens_to_remove)
            self._refresh()

    def reset(self) -> None:
        self.length = 0
        self._keys = self._values = None
        super().reset()


def decoding_cache(config: Any, reserve: int) -> DynamicCache:
    """A ``DynamicCache`` for ``config`` whose plain full-attention layers are :class:`SpareRoomLayer`.

    Sliding-window, linear-attention and other special layers keep transformers' own implementation.
    """
    cache = DynamicCache(config=config)
    if cache.layers:
        cache.layers = [SpareRoomLayer(reserve) if type(layer) is DynamicLayer else layer for layer in cache.layers]
    return cache
