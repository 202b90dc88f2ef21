"""When the wait loop polls: one poll aimed just after the server's estimated end, however
long the task (after one check-in that corrects a wrong estimate); without an estimate, a
fallback interval growing to ``max_interval``."""

from __future__ import annotations

import pytest

from speedpix_async import PollPolicy
from speedpix_async._core.retry import Clock
from speedpix_async._core.waiting import Look, Schedule

NO_JITTER = Clock(random=lambda: 0.0)


@pytest.mark.parametrize("eta", [2.0, 30.0, 300.0, 1200.0])
def test_a_known_estimate_is_aimed_at_however_far(eta: float) -> None:
    policy = PollPolicy(check_in=0)
    schedule = Schedule(policy, first_eta=eta, clock=NO_JITTER)
    delay, aimed, looks = schedule.plan()
    assert aimed
    assert looks
    margin = min(policy.eta_margin + policy.eta_margin_ratio * eta, policy.eta_margin_cap)
    assert delay == pytest.approx(eta + margin)
    # However long the task, the aim lands at most a fraction of a second after its end.
    assert delay - eta <= 0.15 + 1e-9


def test_an_estimate_beyond_max_aim_is_looked_at_every_max_aim() -> None:
    policy = PollPolicy(max_aim=600.0, check_in=0)
    schedule = Schedule(policy, first_eta=7200.0, clock=NO_JITTER)
    assert schedule.plan() == (600.0, False, True)


def test_without_an_estimate_polls_back_off_up_to_max_interval() -> None:
    policy = PollPolicy(fallback_interval=1.0, backoff=2.0, max_interval=5.0)
    schedule = Schedule(policy, first_eta=None, clock=NO_JITTER)
    assert schedule.plan() == (0.0, False, True)  # a resumed wait asks at once
    delays = []
    for _ in range(5):
        schedule.observe(Look(report=None, done=False, eta=None), aimed=False)
        delays.append(schedule.plan()[0])
    assert delays == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_a_fresh_estimate_after_a_look_is_aimed_at_again() -> None:
    schedule = Schedule(PollPolicy(check_in=0), first_eta=30.0, clock=NO_JITTER)
    schedule.plan()
    # The task was queued longer than estimated: the server now says 45 s more.
    schedule.observe(Look(report=None, done=False, eta=45.0), aimed=True)
    delay, aimed, _ = schedule.plan()
    assert aimed
    assert delay > 45.0


def test_max_aim_below_min_interval_is_refused() -> None:
    from speedpix_async import ConfigurationError

    with pytest.raises(ConfigurationError, match="max_aim"):
        PollPolicy(min_interval=1.0, max_aim=0.5)
