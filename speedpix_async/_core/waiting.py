"""The one wait loop: look at a remote job until it ends, under one deadline.

Services describe a job by two functions — *look* (one poll; when the poll is aimed at the end
the server predicted, it may fetch the final state straight away) and *finish* (fetch the final
state once a look says the job ended) — and this module does the rest for every service:

* the **schedule** follows the server's own estimate of the time remaining. Nobody watching, it
  polls once, just after the expected end, however far (up to ``max_aim``); without an
  estimate, every ``fallback_interval`` growing to ``max_interval``. While someone watches
  (``on_progress``, ``watch()``, a display), it polls every ``max(watch_interval,
  watch_fraction × the estimate)`` — fresh reports for the display — and aims at the end once
  it is nearer than that. Never tighter than ``min_interval``; jittered upward so thousands of
  waits do not poll in lock-step;
* **wrong estimates** are corrected: nobody watching, a wait on a task expected to take a while
  takes one progress reading at ``check_in`` × the estimate and learns how wrong this task's
  estimates are (a :class:`Calibration` shares that factor with the client's later waits on the
  same workflow, which then skip the reading); every estimate after it is divided by the factor;
* the **deadline** bounds everything — sleeps, looks, the final fetch and awaited progress
  callbacks. It is enforced around each step, never around a loop that yields (``watch()`` is an
  async generator, and a cancel scope must not span a ``yield``). Looks and finishes are made of
  transport calls and nothing else that waits: a step's :class:`~.retry.Witness` carries the
  deadline and those calls end by it themselves (no cancel scope per request: in a wide
  fan-out that was a tenth of the client's CPU); a progress callback runs in a cancel scope;
* **transient failures** (per :func:`~.retry.is_worth_waiting_out`) are waited out: a flaky
  network never fails a job that is still running. Failed *attempts* are counted — the retries
  inside one poll too, through a :class:`~.retry.Witness` — and after :data:`UNREACHABLE_AFTER`
  in a row a WARNING is logged; a timeout then says when the server was last heard, names the
  endpoint that could not be reached and carries the last error as its cause.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Generic, NamedTuple, TypeVar

import anyio
import attrs

from .._config import PollPolicy
from .._errors import APITimeoutError, SpeedPixError
from .retry import SYSTEM_CLOCK, WITNESS, Clock, Witness, is_worth_waiting_out

__all__ = [
    "UNREACHABLE_AFTER",
    "Calibration",
    "Deadline",
    "DeadlineExceeded",
    "Look",
    "Plan",
    "Schedule",
    "WaitTimeout",
    "Waiter",
    "emit",
]

log = logging.getLogger("speedpix_async")

R = TypeVar("R")
T = TypeVar("T")

#: Failed attempts in a row (retries inside a poll included) after which the server is reported
#: unreachable (a WARNING).
UNREACHABLE_AFTER = 3


class DeadlineExceeded(Exception):
    """Internal: a call's deadline passed. Services turn it into their timeout error.

    ``request_sent`` is True when the deadline struck while a request was on the wire (so a
    non-idempotent call may have been processed) and False when nothing was in flight.
    ``last_error`` is the call's latest failed attempt, if any (say, a refusal it was backing
    off from).
    """

    def __init__(
        self, *, request_sent: bool = False, last_error: BaseException | None = None
    ) -> None:
        super().__init__("the deadline passed")
        self.request_sent = request_sent
        self.last_error = last_error


class Deadline:
    """``timeout`` seconds from now, shared by every step of one call."""

    __slots__ = ("_monotonic", "at", "timeout")

    def __init__(self, timeout: float, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.timeout = timeout
        self._monotonic = clock.monotonic
        self.at = clock.monotonic() + timeout

    def __repr__(self) -> str:
        return f"<Deadline {self.timeout:g}s, {self.remaining():.3f}s left>"

    def remaining(self) -> float:
        return self.at - self._monotonic()

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0

    def scope(self) -> anyio.CancelScope:
        """A cancel scope that ends at the deadline (check ``cancelled_caught`` after it)."""
        return anyio.move_on_after(max(0.0, self.remaining()))


@attrs.frozen
class Look(Generic[R]):
    """What one look at a job found."""

    report: Any
    """Handed to ``on_progress`` and yielded by ``watch()`` (a service's progress type)."""
    done: bool
    """Whether the job has ended (successfully or not)."""
    eta: float | None = None
    """Seconds until the server expects the job to end, if it said."""
    final: R | None = None
    """The job's final state, when this look already has it."""


class WaitTimeout(Exception):
    """Internal: the deadline passed. ``last_error`` is the latest failure of a run of failed
    attempts still unbroken at the deadline (the server was not answering), else None;
    ``failures`` counts that run's attempts; ``heard_ago`` is how many seconds ago the server
    last answered (None: not during this wait)."""

    def __init__(
        self, *, last_error: SpeedPixError | None, failures: int, heard_ago: float | None
    ) -> None:
        super().__init__("the deadline passed")
        self.last_error = last_error
        self.failures = failures
        self.heard_ago = heard_ago


async def emit(callback: Callable[[Any], Any] | None, report: Any) -> None:
    """Call a user's ``on_progress`` (plain or async function) with one report."""
    if callback is None:
        return
    result = callback(report)
    if inspect.isawaitable(result):
        await result


class _Again(Exception):
    """Internal: a step failed in a way worth waiting out; try again later."""


class Plan(NamedTuple):
    """What a wait does next: sleep ``delay`` seconds, then look (aimed at the predicted end
    or not) — or, when ``look`` is False, only plan again (a check-in that a shared
    calibration may make unnecessary)."""

    delay: float
    aimed: bool
    look: bool = True


#: A learned factor outside these bounds is taken for a glitch (a reading too early to tell).
_FACTOR_BOUNDS = (0.25, 4.0)
#: Workflows whose factors one client remembers (the oldest is forgotten first).
_CALIBRATION_TOPICS = 256


class Calibration:
    """How wrong one client's server has lately been about each workflow's duration.

    A *factor* is reported duration / true duration (1.3: estimates 30 % too long), measured
    by a check-in and valid for ``ttl`` seconds. Shared by all waits of one client, on one
    event loop, so it needs no lock."""

    def __init__(self, ttl: float, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.ttl = ttl
        self._monotonic = clock.monotonic
        self._factors: dict[str, tuple[float, float]] = {}

    def factor(self, topic: str) -> float | None:
        """The latest factor learned for ``topic`` within the ttl, else None."""
        found = self._factors.get(topic)
        if found is None or self.ttl <= 0 or self._monotonic() - found[1] > self.ttl:
            return None
        return found[0]

    def learn(self, topic: str, factor: float) -> None:
        self._factors.pop(topic, None)
        self._factors[topic] = (factor, self._monotonic())
        while len(self._factors) > _CALIBRATION_TOPICS:
            del self._factors[next(iter(self._factors))]


class Schedule:
    """When to look next, from the policy and the server's latest estimate."""

    def __init__(
        self,
        policy: PollPolicy,
        *,
        first_eta: float | None,
        interval: float | None = None,
        clock: Clock = SYSTEM_CLOCK,
        watched: bool = False,
        calibration: Calibration | None = None,
        topic: str | None = None,
    ) -> None:
        self.policy = policy
        self.interval = interval if interval is not None else policy.interval
        """A fixed interval (the call's or the policy's), or None to follow the server."""
        self.watched = watched
        """Whether someone watches (then polls come at the watch cadence, see :meth:`plan`)."""
        self._random = clock.random
        self._monotonic = clock.monotonic
        self._started = clock.monotonic()
        # The job's expected duration, for the watch cadence: the submit's estimate, else the
        # first estimate a look brings.
        self._estimate = first_eta
        # Before the first report we aim at the submit's estimate; a resumed wait (no estimate)
        # asks right away so it learns the job's state.
        self._eta = first_eta
        self._immediate = first_eta is None
        self._refresh = False
        self._blind = 0
        """Polls in a row that brought no estimate (for ``backoff``)."""
        self._calibration = calibration if topic is not None else None
        self._topic = topic or ""
        self.factor: float | None = None
        """This task's estimates over the truth, once learned (every ETA is divided by it)."""
        # The moment (seconds after the start) of the check-in, if one is due; spread a little
        # earlier at random so that, in a fan-out, the first readings teach the others.
        self._check_in_at: float | None = None
        self._check_in_wait = False
        # When the check-in's reading was asked for, while its answer is awaited.
        self._reading_sent: float | None = None
        if (
            not watched
            and self.interval is None
            and policy.check_in > 0
            and first_eta is not None
            and first_eta >= max(policy.check_in_min, policy.min_interval)
        ):
            self._check_in_at = first_eta * policy.check_in * (1 - 0.15 * clock.random())

    def delay(self, eta: float | None) -> float:
        """Seconds until the next look, given an estimate of the time remaining.

        * a fixed ``interval`` → that interval, exactly (the caller asked for it);
        * a known ETA → just after it: ``eta + margin + ratio·eta``, clamped to
          ``[min_interval, max_aim]`` — requests per task stay near two for any length when the
          estimate holds;
        * no ETA → ``fallback_interval``, growing by ``backoff`` with each poll that brought
          none (1, 1.5, 2.25… × fallback for a backoff of 1.5), clamped to
          ``[min_interval, max_interval]``.

        The result is then stretched by a random ``0..jitter`` fraction, at most ``jitter_cap``
        seconds (never shortened: looking early only costs a request; and a capped stretch
        spreads a fan-out's polls without adding much lag).
        """
        policy = self.policy
        if self.interval is not None:
            return self.interval
        if eta is None or eta != eta or eta < 0:  # unknown, NaN or nonsense
            base = policy.fallback_interval * policy.backoff**self._blind
            # Capped so the power stays finite in a very long wait (it is clamped below anyway).
            self._blind = min(self._blind + 1, 64)
            ceiling = policy.max_interval
        else:
            self._blind = 0
            margin = policy.eta_margin + policy.eta_margin_ratio * eta
            base = eta + min(margin, policy.eta_margin_cap)
            ceiling = policy.max_aim
        base = min(ceiling, max(policy.min_interval, base))
        return self._jittered(base)

    def _jittered(self, base: float) -> float:
        return base + min(base * self.policy.jitter, self.policy.jitter_cap) * self._random()

    def cadence(self) -> float:
        """The interval between polls while someone watches: ``max(watch_interval,
        watch_fraction × the estimated duration)``; without an estimate, the same fraction of
        the time waited so far, up to ``max_interval``."""
        policy = self.policy
        if self._estimate is not None and self._estimate >= 0:
            return min(
                policy.max_aim, max(policy.watch_interval, policy.watch_fraction * self._estimate)
            )
        waited = self._elapsed()
        ceiling = max(policy.watch_interval, policy.max_interval)
        return min(ceiling, max(policy.watch_interval, policy.watch_fraction * waited))

    def _elapsed(self) -> float:
        return self._monotonic() - self._started

    def plan(self) -> Plan:
        """What to do next: how long to sleep, and whether to look then (aimed at the
        predicted end or not)."""
        if self._immediate:
            self._immediate = False
            return Plan(0.0, False)
        if self._refresh:
            self._refresh = False
            return Plan(self.policy.min_interval, False)
        if self._check_in_at is not None or self._check_in_wait:
            return self._check_in()
        eta = self._eta
        if self.watched and self.interval is None:
            cadence = self.cadence()
            if eta is None or eta != eta or eta < 0 or eta > cadence:
                return Plan(self._jittered(cadence), False)
            # The end is nearer than one more report: look at it (the result, at once).
        aimed = self.interval is None and eta is not None and eta <= self.policy.max_aim
        return Plan(self.delay(eta), aimed)

    def _check_in(self) -> Plan:
        """Sleep until the check-in; then aim with the shared factor if the client learned one
        meanwhile, else take the reading (a progress look)."""
        if self._check_in_at is not None:
            due = self._check_in_at - self._elapsed()
            self._check_in_at = None
            if due > 0:
                # One sleep only: a clock may wake a hair early, and sleeping that hair again
                # could loop forever on a clock too coarse to represent it.
                self._check_in_wait = True
                return Plan(due, False, look=False)
        self._check_in_wait = False
        shared = None if self._calibration is None else self._calibration.factor(self._topic)
        if shared is None or self._estimate is None:
            # Timed from when the reading is asked for, not when it answers: an answer slowed
            # by a busy client would read as a task running slow, and aim late.
            self._reading_sent = self._elapsed()
            return Plan(0.0, False)
        self.factor = shared
        self._eta = max(0.0, self._estimate / shared - self._elapsed())
        return Plan(self.delay(self._eta), self._eta <= self.policy.max_aim)

    def observe(self, look: Look[Any], aimed: bool) -> None:
        eta = look.eta
        if eta is not None and (eta != eta or eta < 0):
            eta = None
        if self._estimate is None and eta is not None:
            self._estimate = eta
        if self._reading_sent is not None:
            self._learn(eta, look.done, self._reading_sent)
            self._reading_sent = None
        if eta is not None and self.factor is not None:
            eta /= self.factor
        self._eta = eta
        # An aimed look that found the job unfinished brings no fresh estimate: refresh soon.
        if aimed and look.eta is None and not look.done:
            self._refresh = True

    def _learn(self, eta: float | None, done: bool, elapsed: float) -> None:
        """The check-in's reading: with ``E`` the estimate at the start and ``q`` the time left
        as reported ``t`` (``elapsed``) seconds later, a task whose estimates are off by a
        factor ``f`` reports ``E = f·D`` and ``q = f·(D - t)``, so ``f = (E - q) / t``."""
        start = self._estimate
        if done or eta is None or start is None or elapsed <= 0 or start <= eta:
            return
        factor = (start - eta) / elapsed
        low, high = _FACTOR_BOUNDS
        if not low <= factor <= high:
            return
        self.factor = factor
        if self._calibration is not None:
            self._calibration.learn(self._topic, factor)

    def failed(self) -> None:
        """A look failed: forget the estimate (the next look waits the fallback interval)."""
        self._eta = None


class Waiter(Generic[R]):
    """One wait on one job: its schedule, its deadline, its run of failures."""

    def __init__(
        self,
        look: Callable[[bool], Awaitable[Look[R]]],
        *,
        schedule: Schedule,
        deadline: Deadline,
        clock: Clock = SYSTEM_CLOCK,
        heard_at: float | None = None,
    ) -> None:
        self._look = look
        self.schedule = schedule
        self.deadline = deadline
        self._clock = clock
        self.failures = 0
        """Failed attempts in a row, retries inside a step included (reset by any success)."""
        self.last_error: SpeedPixError | None = None
        self.heard_at = heard_at
        """When (the clock's monotonic time) the server last answered: the submit's answer for
        a fresh wait, else None until a look succeeds."""
        self._warned = False

    def _timeout(self) -> WaitTimeout:
        heard = self.heard_at
        if self.failures:
            self._warn(
                "gave up waiting: the server has not answered the last %d attempts (last "
                "error: %s)",
                self.failures,
                self.last_error,
            )
        return WaitTimeout(
            last_error=self.last_error if self.failures else None,
            failures=self.failures,
            heard_ago=None if heard is None else max(0.0, self._clock.monotonic() - heard),
        )

    def _failed(self, error: SpeedPixError) -> None:
        """One more failed attempt (told by the step's witness as it happens)."""
        self.failures += 1
        self.last_error = error
        if self.failures == UNREACHABLE_AFTER:
            self._warn(
                "the server has not answered the last %d attempts (last error: %s); still "
                "waiting until the deadline (%.1fs left)",
                self.failures,
                error,
                max(0.0, self.deadline.remaining()),
            )
        else:
            log.debug("transient error while waiting (%s); will try again", error)

    def _warn(self, message: str, *args: Any) -> None:
        if not self._warned:
            self._warned = True
            log.warning(message, *args)

    def _sleep(self, delay: float) -> Awaitable[None]:
        """Sleep ``delay``, but never past the deadline (a real and a virtual clock's sleep
        alike end there: no cancel scope is needed for it); the caller then checks the deadline
        with :meth:`_check`. Not a coroutine itself: every waiting prediction would hold one
        more frame for the garbage collector to walk."""
        return self._clock.sleep(min(delay, self.deadline.remaining()))

    def _check(self) -> None:
        """Raise the timeout once the deadline has passed."""
        if self.deadline.expired:
            raise self._timeout()

    async def _step(self, delay: float, step: Callable[[], Awaitable[T]]) -> T:
        """Sleep ``delay``, then run ``step`` within the deadline. Raises :class:`_Again` after
        a failure worth waiting out, :class:`WaitTimeout` at the deadline."""
        if delay > 0:
            # The sleep is bounded by the deadline itself: a sleeping prediction holds one
            # timer, not two.
            await self._sleep(delay)
        self._check()
        # No cancel scope: the step's transport calls take the deadline from the witness and
        # end by it themselves (raising DeadlineExceeded) — why a step awaits nothing else.
        witness = Witness(self._failed, self.deadline.remaining)
        token = WITNESS.set(witness)
        try:
            result = await step()
        except DeadlineExceeded:
            pass
        except SpeedPixError as exc:
            if not is_worth_waiting_out(exc):
                raise
            if not witness.failures:
                self._failed(exc)  # failed outside the pipeline's attempts
            raise _Again from exc
        else:
            self.failures = 0
            self.heard_at = self._clock.monotonic()
            return result
        finally:
            WITNESS.reset(token)
        # The deadline cut the step short, perhaps with a request still unanswered.
        if witness.pending is not None:
            method, url, sent = witness.pending
            waited = self._clock.monotonic() - sent
            self._failed(
                APITimeoutError(
                    f"no answer to {method} {url} within {waited:.1f}s",
                    method=method,
                    url=url,
                    request_sent=True,
                )
            )
        raise self._timeout()

    async def next(self) -> Look[R]:
        """Sleep until the next scheduled look and return what it found."""
        while True:
            delay, aimed, looks = self.schedule.plan()
            if log.isEnabledFor(logging.DEBUG):
                if not looks:
                    log.debug("waiting %.2fs before planning the next look", delay)
                else:
                    target = " (at the server's estimate of the end)" if aimed else ""
                    log.debug("next look in %.2fs%s", delay, target)
            if not looks:
                # Only a pause: the next plan decides whether to look. _sleep never sleeps past
                # the deadline and _check raises the timeout there, so no cancel scope is
                # needed (one per prediction was a measurable cost in a wide fan-out).
                await self._sleep(delay)
                self._check()
                continue
            try:
                look = await self._step(delay, functools.partial(self._look, aimed))
            except _Again:
                self.schedule.failed()
                continue
            self.schedule.observe(look, aimed)
            return look

    async def settle(self, step: Callable[[], Awaitable[T]]) -> T:
        """Run ``step`` (fetching a final state) until it succeeds, within the deadline;
        failures worth waiting out are retried after the fallback interval."""
        delay = 0.0
        while True:
            try:
                return await self._step(delay, step)
            except _Again:
                delay = self.schedule.policy.fallback_interval

    async def report(self, callback: Callable[[Any], Any] | None, report: Any) -> None:
        """Hand ``report`` to an ``on_progress`` callback, within the deadline."""
        if callback is None:
            return
        with self.deadline.scope():
            await emit(callback, report)
            return
        raise self._timeout()

    async def until_done(
        self,
        finish: Callable[[Look[R]], Awaitable[R | None]] | None = None,
        *,
        on_report: Callable[[Any], Any] | None = None,
    ) -> R:
        """Look until the job ends and return its final state. ``finish`` fetches it when the
        last look did not carry it (a service whose looks always do passes none); it may find
        the job unfinished after all (None), and the wait goes on."""
        while True:
            look = await self.next()
            await self.report(on_report, look.report)
            if not look.done:
                continue
            final = look.final
            if final is None:
                if finish is None:
                    raise TypeError("a look said the job ended without its final state")
                final = await self.settle(functools.partial(finish, look))
            if final is not None:
                return final
