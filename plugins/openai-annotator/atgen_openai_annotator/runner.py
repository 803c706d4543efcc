"""Running groups of chat requests: cache first, then a bounded thread pool under a money budget.

A *group* is the set of requests one item needs (one, or one per self-consistency sample). The
runner yields each group as soon as all its requests are finished, so results stream out in
completion order.

Money: before a group is admitted, ``spent + reserved + bound(group) <= money`` must hold, where
``bound`` is the conservative upper bound of its uncached requests (prompt tokens from UTF-8 bytes,
completion tokens = max_tokens per choice) and ``reserved`` the bounds of everything in flight.
When a group does not fit, the runner first waits for in-flight requests (their actual cost
replaces their bound); if it still does not fit with nothing in flight, that group and every
group after it are *skipped* (never sent).

Cache: every successful response is stored under :meth:`ChatRequest.cache_key` in the given
key-value cache (only from the calling thread, so a non-thread-safe store is fine). A cached request
sends nothing and costs 0; its original cost is reported as ``cached_cost``.

Billing uncertainty: a 200 response that cannot be parsed, and a read timeout, may still have been
billed by the provider; each is charged at the request's upper bound (``cost_estimated``). Error
statuses (4xx/5xx) are charged nothing.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Generator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Literal

from pydantic import ValidationError

from atgen_core.types import KeyValueCache
from atgen_openai_annotator.client import ChatClient, ChatOutcome, ChatRequest, ChatResponse
from atgen_openai_annotator.config import ClientConfig

__all__ = ["GroupResult", "RequestRunner"]

_EPS = 1e-12


@dataclass
class GroupResult:
    """The outcome of one group: ``done`` (every request has an outcome, ok or not), ``skipped``
    (not sent: money budget) or ``aborted`` (not sent: an earlier request failed fatally)."""

    index: int
    status: Literal["done", "skipped", "aborted"]
    outcomes: list[ChatOutcome]
    reason: str | None = None
    seconds: float = 0.0

    @property
    def cost(self) -> float:
        return sum(o.cost for o in self.outcomes)


class RequestRunner:
    """Runs request groups for one batch (see the module docstring for the rules)."""

    def __init__(
        self,
        cfg: ClientConfig,
        *,
        api_key: str | None,
        cache: KeyValueCache | None = None,
        money: float | None = None,
    ) -> None:
        self.cfg = cfg
        self.cache = cache if cfg.cache else None
        self.money = money
        self.spent = 0.0
        self._api_key = api_key

    # ------------------------------------------------------------------ money

    def token_bounds(self, request: ChatRequest) -> tuple[int, int]:
        """Upper bounds of (prompt tokens, completion tokens) for one request."""
        return request.prompt_token_bound(self.cfg.bytes_per_token_bound), self.cfg.max_tokens * request.n

    def price(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.cfg.input_price_per_1m + completion_tokens * self.cfg.output_price_per_1m) / 1e6

    def bound(self, request: ChatRequest) -> float:
        """Upper bound of what ``request`` may cost (one billed response)."""
        return self.price(*self.token_bounds(request))

    def actual_cost(self, outcome: ChatOutcome) -> tuple[float, bool]:
        """(cost, estimated) of a finished, non-cached outcome."""
        if outcome.cached:
            return 0.0, False
        bound_in, bound_out = self.token_bounds(outcome.request)
        cost = outcome.uncertain * self.price(bound_in, bound_out)
        estimated = outcome.uncertain > 0
        resp = outcome.response
        if resp is not None:
            tin, tout = resp.prompt_tokens, resp.completion_tokens
            if tin is None:
                tin, estimated = bound_in, True
            if tout is None:
                tout, estimated = bound_out, True
            cost += self.price(tin, tout)
        return cost, estimated

    def cached_cost(self, response: ChatResponse) -> float:
        """What a cached response cost when it was first fetched (0 when the usage is unknown)."""
        return self.price(response.prompt_tokens or 0, response.completion_tokens or 0)

    # ------------------------------------------------------------------ running

    def _lookup(self, request: ChatRequest) -> ChatOutcome | None:
        hit = self.cache.get(request.cache_key(self.cfg)) if self.cache is not None else None
        try:  # an entry that is not one of ours counts as a miss
            response = ChatResponse.model_validate_json(hit) if hit else None
        except ValidationError:
            return None
        return ChatOutcome(request=request, response=response, cached=True) if response else None

    def _store(self, outcome: ChatOutcome) -> None:
        if self.cache is not None and outcome.response is not None and not outcome.cached:
            self.cache.put(outcome.request.cache_key(self.cfg), outcome.response.model_dump_json())

    def _settle(self, outcome: ChatOutcome) -> ChatOutcome:
        """Charge a finished outcome to the batch and cache its response."""
        outcome.cost, outcome.cost_estimated = self.actual_cost(outcome)
        self.spent += outcome.cost
        self._store(outcome)
        return outcome

    def run(self, groups: Sequence[Sequence[ChatRequest]]) -> Generator[GroupResult, None, None]:
        """Yield one :class:`GroupResult` per group, cached groups first, then in completion order."""
        partial: dict[int, list[ChatOutcome | None]] = {}
        todo: list[int] = []
        for gi, requests in enumerate(groups):
            outs = [self._lookup(r) for r in requests]
            if all(o is not None for o in outs):
                yield GroupResult(gi, "done", [o for o in outs if o is not None])
            else:
                partial[gi] = outs
                todo.append(gi)
        if todo:
            yield from self._run_network(groups, partial, todo)

    def _run_network(
        self,
        groups: Sequence[Sequence[ChatRequest]],
        partial: dict[int, list[ChatOutcome | None]],
        todo: list[int],
    ) -> Generator[GroupResult, None, None]:
        """Admit groups under the money rule, run them on the pool, yield them as they complete.

        Longer than 60 lines on purpose: admission, completion, abort and the early-exit cleanup share
        the in-flight state (``reserved``, ``ready``, ``in_flight``); split up, each piece would need all of it.
        """
        cfg = self.cfg
        client = ChatClient(cfg, self._api_key)
        executor = ThreadPoolExecutor(max_workers=cfg.concurrency, thread_name_prefix="atgen-openai")
        cancel = threading.Event()
        in_flight: dict[Future[ChatOutcome], tuple[int, int, float]] = {}
        ready: deque[tuple[int, int, float]] = deque()
        started: dict[int, float] = {}
        reserved = 0.0
        next_pos = 0
        abort_reason: str | None = None

        def finished(gi: int) -> GroupResult | None:
            outs = partial[gi]
            if any(o is None for o in outs):
                return None
            del partial[gi]
            return GroupResult(gi, "done", [o for o in outs if o is not None], seconds=time.monotonic() - started[gi])

        try:
            while True:
                while len(in_flight) < cfg.concurrency:
                    if ready:
                        gi, ri, bound = ready.popleft()
                        fut = executor.submit(client.complete, groups[gi][ri], cancel)
                        in_flight[fut] = (gi, ri, bound)
                        continue
                    if abort_reason is not None or next_pos >= len(todo):
                        break
                    gi = todo[next_pos]
                    missing = [ri for ri, o in enumerate(partial[gi]) if o is None]
                    bounds = {ri: self.bound(groups[gi][ri]) for ri in missing}
                    need = sum(bounds.values())
                    if self.money is not None and self.spent + reserved + need > self.money + _EPS:
                        if in_flight:
                            break  # completions may free reserved money; try again after them
                        reason = (
                            f"money budget: {self.money:.6g} left at the batch start, {self.spent:.6g} "
                            f"spent, next item may cost up to {need:.6g}"
                        )
                        for gj in todo[next_pos:]:
                            yield GroupResult(gj, "skipped", [o for o in partial[gj] if o is not None], reason)
                        next_pos = len(todo)
                        break
                    reserved += need
                    next_pos += 1
                    started[gi] = time.monotonic()
                    ready.extend((gi, ri, bounds[ri]) for ri in missing)
                if not in_flight:
                    break
                done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
                for fut in done:
                    gi, ri, bound = in_flight.pop(fut)
                    outcome = self._settle(fut.result())
                    reserved -= bound
                    partial[gi][ri] = outcome
                    if outcome.fatal and abort_reason is None:
                        abort_reason = f"not sent: an earlier request failed fatally ({outcome.error})"
                    result = finished(gi)
                    if result is not None:
                        yield result
                if abort_reason is not None:
                    while ready:
                        gi, ri, bound = ready.popleft()
                        reserved -= bound
                        partial[gi][ri] = ChatOutcome(request=groups[gi][ri], error=abort_reason)
                        result = finished(gi)
                        if result is not None:
                            yield result
            for gj in todo[next_pos:]:
                yield GroupResult(gj, "aborted", [o for o in partial[gj] if o is not None], abort_reason)
        finally:
            # Normal end, or the consumer stopped early: stop retries, let sent requests finish, and
            # keep whatever they returned in the cache so that a resumed run does not pay again.
            cancel.set()
            executor.shutdown(wait=True, cancel_futures=True)
            for fut in in_flight:
                if fut.done() and not fut.cancelled() and fut.exception() is None:
                    self._settle(fut.result())
            client.close()
