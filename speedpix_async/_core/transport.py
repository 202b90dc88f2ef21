"""The request pipeline: serialize once → sign → send → read → retry.

One :class:`Transport` per client and service. The service's :class:`~.answers.ServiceProfile`
signs each attempt and reads each answer; this module owns everything in between: the exact
bytes, fresh signatures per attempt, the retry loop, clock-skew correction and the call's
deadline. See docs/architecture.md for the path of one call.
"""

from __future__ import annotations

import copy
import json
import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import httpx

from .._config import RetryPolicy
from .._errors import (
    APIConnectionError,
    InputError,
    SpeedPixError,
    TimestampError,
)
from .._signing import QueryParams
from . import telemetry
from .answers import CallContext, Reply, ServiceProfile
from .http import BeforeSend, HttpBackend, OutOfTime, Response, client_closed, log_exchange
from .retry import SYSTEM_CLOCK, WITNESS, Attempts, Clock, parse_http_date
from .telemetry import CallRecord
from .waiting import Deadline, DeadlineExceeded

__all__ = ["ClockSkew", "Transport", "dump_json"]


log = logging.getLogger("speedpix_async")


@attrs.define
class ClockSkew:
    """Seconds to add to the local clock to get the server's, learned from a ``Date`` header
    when the server rejects a timestamp. Shared by every transport of one client."""

    offset: float = 0.0

    def learn(self, date_header: str | None, local_now: float) -> bool:
        """Adopt the offset a ``Date`` header shows; False when it explains nothing."""
        server = parse_http_date(date_header)
        if server is None:
            return False
        offset = server - local_now
        # Date has one-second resolution; a smaller gap cannot be the cause of the rejection.
        if math.isclose(offset, self.offset, abs_tol=1.0):
            return False
        self.offset = offset
        return True


#: Built once: ``json.dumps`` with any non-default option builds a new encoder on every call,
#: which cost more than encoding a poll's small body.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def dump_json(body: Any) -> bytes:
    """The one serialization of a request body: compact, UTF-8, non-ASCII kept as is (the same
    bytes the official SDKs send), no NaN/Infinity (not JSON)."""
    try:
        text = _ENCODER.encode(body)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"the request body cannot be sent as JSON ({exc}); values must be str, int, float, "
            "bool, None, lists and dicts of those"
        ) from exc
    return text.encode("utf-8")


class _ClockCorrected(Exception):
    """Internal: the server rejected our timestamp and its Date taught us its time; the attempt
    is made again at once."""


class _CallState:
    """What one logical call has been through, across its attempts."""

    __slots__ = ("before_send", "clock_corrected", "last_error", "record", "remaining", "sent")

    def __init__(self, before_send: BeforeSend | None) -> None:
        self.before_send = before_send
        self.record: CallRecord | None = None
        """What telemetry is told of this call, when it is on."""
        self.sent = False
        """Whether the current attempt's request may be on the wire (read when a deadline
        strikes mid-call): True from the moment it is handed over until an answer is in."""
        self.last_error: SpeedPixError | None = None
        """The latest failed attempt's error (a refusal, a connect error …)."""
        self.clock_corrected = False
        self.remaining: Callable[[], float] | None = None
        """Seconds left of the call's deadline (None: it has none)."""


class Transport:
    """Signed, retried JSON calls against one base URL.

    Every attempt is signed afresh (new nonce and timestamp). A non-idempotent call whose
    outcome is unknown is never repeated: :class:`~.retry.OutcomeUnknown` is raised instead.
    """

    def __init__(
        self,
        *,
        profile: ServiceProfile,
        backend: HttpBackend,
        base_url: str,
        retry: RetryPolicy,
        timeout: httpx.Timeout,
        user_agent: str,
        sign_path_prefix: str = "",
        skew: ClockSkew | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.profile = profile
        self.backend = backend
        self.base_url = base_url.rstrip("/")
        self.retry = retry
        self.timeout = timeout
        self.user_agent = user_agent
        self.sign_path_prefix = sign_path_prefix
        self.skew = skew if skew is not None else ClockSkew()
        self.clock = clock
        self.owns_backend = True
        """Whether closing this transport closes the backend (not for derived transports)."""
        self._closed = False

    def __repr__(self) -> str:
        return f"<Transport {self.profile.name} {self.base_url}>"

    @property
    def closed(self) -> bool:
        return self._closed

    def derive(
        self, *, retry: RetryPolicy | None = None, timeout: httpx.Timeout | None = None
    ) -> Transport:
        """A transport sharing this one's backend, profile and clock skew, with other
        policies. The derived transport never closes the shared backend."""
        # A shallow copy shares everything (backend, profile, the very same ClockSkew) and
        # cannot fall behind when a field is added; only the policies and ownership differ.
        derived = copy.copy(self)
        derived.owns_backend = False
        derived.retry = retry or self.retry
        derived.timeout = timeout or self.timeout
        return derived

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.owns_backend:
            await self.backend.aclose()

    def check_open(self) -> None:
        if self._closed:
            raise client_closed()

    async def call(
        self,
        path: str,
        body: Any = None,
        *,
        idempotent: bool,
        method: str = "POST",
        headers: Mapping[str, str] | None = None,
        params: QueryParams | None = None,
        deadline: Deadline | None = None,
        before_send: BeforeSend | None = None,
    ) -> Reply:
        """Send one logical call (with retries) and return the read payload.

        ``body`` is serialized once, here (``bytes`` are sent as they are; ``None`` sends no
        body). ``headers`` are added after signing and are not signed. With a ``deadline``, the
        whole call (attempts and the waits between them) ends when it passes, raising
        :class:`~.waiting.DeadlineExceeded` that says whether a request was on the wire.
        ``before_send`` is awaited when an attempt's connection is ready, just before its
        bytes go out (see :data:`~.http.BeforeSend`).
        """
        self.check_open()
        payload = body if body is None or isinstance(body, bytes) else dump_json(body)
        state = _CallState(before_send)
        if deadline is not None:
            state.remaining = deadline.remaining
        else:
            witness = WITNESS.get()
            if witness is not None:
                state.remaining = witness.remaining
        with telemetry.call(self.profile.name, method, self.base_url + path, path) as record:
            state.record = record
            return await self._attempts(method, path, payload, headers, params, idempotent, state)

    async def _attempts(
        self,
        method: str,
        path: str,
        payload: bytes | None,
        headers: Mapping[str, str] | None,
        params: QueryParams | None,
        idempotent: bool,
        state: _CallState,
    ) -> Reply:
        """Attempt the call until one succeeds or the retry rules say stop (they are consulted
        only after a failure), or its deadline passes.

        The deadline is not a cancel scope: each attempt is told the seconds left
        (``within=``) and its backend ends it by then; the backoff between attempts never
        sleeps past it. (A scope per request was a tenth of a wide fan-out's client CPU:
        docs/performance.md.)"""
        started = self.clock.monotonic()
        attempts: Attempts | None = None
        remaining = state.remaining
        while True:
            number = 1 if attempts is None else attempts.number + 1
            within = None
            if remaining is not None:
                within = remaining()
                if within <= 0:
                    raise DeadlineExceeded(request_sent=state.sent, last_error=state.last_error)
            try:
                return await self._attempt(
                    method, path, payload, headers, params, number, state, within
                )
            except _ClockCorrected:
                continue  # re-signed with the server's time; not a retry
            except OutOfTime as cut:
                raise DeadlineExceeded(
                    request_sent=cut.request_sent, last_error=state.last_error
                ) from None
            except SpeedPixError as error:
                state.last_error = error
                if attempts is None:
                    what = f"{method} {path}"
                    attempts = Attempts(
                        self.retry,
                        idempotent=idempotent,
                        what=what,
                        clock=self.clock,
                        started=started,
                        remaining=remaining,
                    )
                await attempts.failed(error)

    async def _attempt(
        self,
        method: str,
        path: str,
        payload: bytes | None,
        extra_headers: Mapping[str, str] | None,
        params: QueryParams | None,
        number: int,
        state: _CallState,
        within: float | None,
    ) -> Reply:
        signature = self.profile.sign(
            method=method,
            path=self.sign_path_prefix + path,
            body=payload,
            params=params,
            now=self.clock.wall() + self.skew.offset,
        )
        headers = {"user-agent": self.user_agent, **signature.headers}
        if extra_headers:
            headers.update(extra_headers)
        url = self.base_url + path
        if params:
            url = str(httpx.URL(url, params=params))
        call = CallContext(
            method=method, url=self.base_url + path, string_to_sign=signature.string_to_sign
        )
        began = self.clock.monotonic()
        state.sent = True
        if state.record is not None:
            state.record.attempts = number
        witness = WITNESS.get()
        if witness is not None:
            witness.pending = (method, call.url, began)
        try:
            response = await self.backend.request(
                method,
                url,
                headers=headers,
                content=payload,
                timeout=self.timeout,
                limit=self.profile.max_body,
                before_send=state.before_send,
                within=within,
            )
        except APIConnectionError as exc:
            state.sent = exc.request_sent
            if witness is not None:
                witness.pending = None
            raise
        except OutOfTime as cut:
            # The deadline came first. A request it caught on the wire stays pending: the wait
            # loop reports it as unanswered.
            state.sent = cut.request_sent
            if witness is not None and not cut.request_sent:
                witness.pending = None
            raise
        if witness is not None:
            witness.pending = None
        if state.record is not None:
            state.record.status = response.status_code
        # An answer is in: nothing of this attempt is on the wire any more. A deadline that
        # strikes from here on (reading a refusal, backing off after it) finds nothing sent
        # that the server may still be processing.
        state.sent = False
        if log.isEnabledFor(logging.INFO):
            request_id = response.headers.get("x-ca-request-id") or "-"
            log_exchange(
                method,
                call.url,
                response.status_code,
                began,
                self.clock.monotonic(),
                f"attempt {number}, request id {request_id}",
            )
        try:
            return self.profile.read(response, call)
        except TimestampError:
            # One correction per call: a second rejection is not about our clock.
            if not state.clock_corrected and self._learn_skew(response):
                state.clock_corrected = True
                raise _ClockCorrected from None
            raise

    def _learn_skew(self, response: Response) -> bool:
        learned = self.skew.learn(response.headers.get("date"), self.clock.wall())
        if learned:
            log.debug(
                "the server rejected our timestamp; clock offset now %+.3fs, re-signing",
                self.skew.offset,
            )
        return learned
