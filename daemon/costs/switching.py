"""Does a move pay? The expected cost of a whole task on a model, given its prompt cache.

A task (a user turn and its tool loop) is expected to take ``TaskShape.requests`` requests whose
prompt starts at ``prefix_tokens`` and grows by ``growth_tokens`` each time. On a model whose
cache holds ``readable`` tokens of it now, the first request reads what is alive and writes the
rest (explicit caches; automatic ones just read), and every later request reads the previous
prompt and writes (or pays plainly for) the growth. ``assess_move`` compares the task served as
requested with the task on a target, and adds the consequence for the requested model's cache:
when the task on the target outlasts that cache's lifetime, the next request back re-writes what
is lost; when it adds more blocks than Anthropic's look-back reaches (about
``BLOCKS_PER_REQUEST`` a request), the next request back finds only the stable prefix and
re-writes the rest (docs/routing.md, "Cache-aware switching"; the rules are ``docs/costs.md``'s).

Output tokens are assumed equal on both models. Does not choose candidates (``routing.policy``)
nor hold cache states (``routing.runtime.CacheBook``). Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.ir import Usage
from .cache_state import (
    LOOKBACK_BLOCKS,
    ONE_HOUR,
    CacheState,
    ModelRef,
    automatic_prefix,
    explicit_caching,
    min_cacheable_tokens,
    readable,
)
from .conditions import NONE
from .prices import PriceBook, cost_of

# A move must save at least this share of the task's cost as requested (estimates are estimates).
MIN_SAVING_SHARE = 0.02
# A tool round adds about this many blocks: the assistant's text and tool call, the tool result.
BLOCKS_PER_REQUEST = 3


@dataclass(frozen=True, slots=True)
class TaskShape:
    """What the rest of a task is expected to look like (learned per session, with priors)."""

    prefix_tokens: int
    requests: int = 1
    growth_tokens: int = 0
    output_tokens: int = 500
    # Expected seconds from this request to the task's last one.
    seconds: float = 0.0
    # The lifetime the client's cache markers ask for (5 minutes or 1 hour).
    lifetime: float = 300.0


@dataclass(frozen=True, slots=True)
class TaskCost:
    total: float
    # What the first request pays to write the cache (0 on automatic caches).
    first_write: float


def task_cost(
    book: PriceBook,
    model: ModelRef,
    state: CacheState | None,
    shape: TaskShape,
    now: float,
    conditions: frozenset[str] = NONE,
) -> TaskCost:
    """The expected cost of the task on ``model`` whose cache for this identity is ``state``."""
    price = book.get(*model)
    explicit = explicit_caching(model[0])
    minimum = min_cacheable_tokens(*model)
    one_hour = shape.lifetime >= ONE_HOUR
    alive = readable(state, now)
    total = first_write = 0.0
    previous = 0
    for k in range(max(1, shape.requests)):
        prompt = shape.prefix_tokens + k * shape.growth_tokens
        if explicit:
            read = min(alive, prompt) if k == 0 else previous
            written = prompt - read if prompt >= minimum else 0
            usage = Usage(
                input_tokens=prompt - read - written,
                cache_read_tokens=read,
                cache_write_tokens=written,
                cache_write_1h_tokens=written if one_hour else 0,
                output_tokens=shape.output_tokens,
            )
        else:
            cached = min(alive, automatic_prefix(prompt)) if k == 0 else automatic_prefix(previous)
            usage = Usage(
                input_tokens=prompt - cached, cache_read_tokens=cached, output_tokens=shape.output_tokens
            )
        cost = cost_of(price, usage, conditions)
        total += cost.total
        if k == 0:
            first_write = cost.cache_write
        previous = prompt
    return TaskCost(total, first_write)


def lost_cache(
    book: PriceBook,
    model: ModelRef,
    state: CacheState | None,
    shape: TaskShape,
    now: float,
    conditions: frozenset[str] = NONE,
    stable_tokens: int | None = None,
    *,
    returns: bool = False,
) -> float:
    """What ``model`` pays on its next request for the cache it loses while the task is away:
    the readable prefix re-written instead of read when the task outlasts the lifetime; on an
    explicit cache, all but ``stable_tokens`` (the prefix through the system's breakpoint) when
    the task adds more blocks than the look-back reaches (None: the breakpoints are unknown).

    ``returns``: the conversation comes back to ``model`` after the task (its main conversation,
    not a fresh context). Then a cache that is cold now, or dies while the task is away, is not
    saved by moving, only postponed: staying writes it now and reads it on the next task; moving
    leaves the next task to write the prompt as it has grown by then (prefix and the task's
    growth) instead of reading it."""
    alive = readable(state, now)
    explicit = explicit_caching(model[0])
    outlasts = state is None or alive <= 0 or state.expires <= now + shape.seconds
    if returns and outlasts:
        lost = shape.prefix_tokens + shape.growth_tokens * max(1, shape.requests)
        if lost < min_cacheable_tokens(*model):
            return 0.0
    elif alive <= 0 or state is None:
        return 0.0
    elif outlasts:
        lost = alive
    elif explicit and stable_tokens is not None and shape.requests * BLOCKS_PER_REQUEST > LOOKBACK_BLOCKS:
        lost = max(0, alive - stable_tokens)
    else:
        return 0.0
    price = book.get(*model)
    lifetime = state.lifetime if state is not None and alive > 0 else shape.lifetime
    if explicit:
        one_hour = lost if lifetime >= ONE_HOUR else 0
        again = Usage(cache_write_tokens=lost, cache_write_1h_tokens=one_hour)
    else:
        again = Usage(input_tokens=lost)
    return max(
        0.0,
        cost_of(price, again, conditions).total
        - cost_of(price, Usage(cache_read_tokens=lost), conditions).total,
    )


@dataclass(frozen=True, slots=True)
class MoveAssessment:
    """The task as requested vs on the target, and the verdict."""

    stay: float
    move: float
    cold_write: float
    consequence: float
    threshold: float

    @property
    def saving(self) -> float:
        return self.stay - self.move - self.consequence

    @property
    def pays(self) -> bool:
        return self.saving > self.threshold

    def why(self, target: str) -> str:
        """The numbers behind the verdict, for the event and ``explain``."""
        text = f"task on {target} ${self.move:.4f} vs ${self.stay:.4f} as requested"
        if self.cold_write > 0:
            text += f" (cold write ${self.cold_write:.4f})"
        if self.consequence > 0:
            text += f", requested model's cache lost ${self.consequence:.4f}"
        verdict = "saves" if self.pays else "would save" if self.saving > 0 else "loses"
        return f"{verdict} ${abs(self.saving):.4f}: {text}"


def assess_move(
    book: PriceBook,
    requested: ModelRef,
    requested_state: CacheState | None,
    target: ModelRef,
    target_state: CacheState | None,
    shape: TaskShape,
    now: float,
    conditions: frozenset[str] = NONE,
    stable_tokens: int | None = None,
    *,
    returns: bool = False,
) -> MoveAssessment:
    """Expected task cost as requested vs on ``target``, plus the requested cache's loss
    (``stable_tokens``: what a look-back miss still finds; ``returns``: the conversation comes
    back to the requested model after the task — see ``lost_cache``)."""
    stay = task_cost(book, requested, requested_state, shape, now, conditions)
    move = task_cost(book, target, target_state, shape, now, conditions)
    consequence = lost_cache(
        book, requested, requested_state, shape, now, conditions, stable_tokens, returns=returns
    )
    return MoveAssessment(
        stay=stay.total,
        move=move.total,
        cold_write=move.first_write,
        consequence=consequence,
        threshold=MIN_SAVING_SHARE * stay.total,
    )
