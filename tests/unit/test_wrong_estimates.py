"""Waits against estimates that are wrong by a factor, on a virtual clock: one check-in reading
corrects the aim, a client shares what it learned with its later waits on the same workflow,
and the time over the task stays a fraction of a second for 2 s, 30 s and 300 s tasks whether
the service's estimates are 30 % early, exact or 30 % late."""

from __future__ import annotations

import functools

import anyio
import pytest

from speedpix_async import PollPolicy
from speedpix_async._core.waiting import Calibration, Deadline, Look, Schedule, Waiter
from tests._clock import SharedTime, VirtualTime


class Task:
    """A task of true duration ``seconds`` whose reported estimates are ``factor`` times the
    truth (1.3: 30 % too long), seen through the two kinds of look a SpeedPix wait makes:
    aimed (the result call: done or not, no estimate) and not (a progress reading)."""

    def __init__(self, time: VirtualTime, seconds: float, factor: float) -> None:
        self.time = time
        self.start = time.now
        self.seconds = seconds
        self.factor = factor
        self.looks: list[bool] = []
        self.ended_seen_at: float | None = None

    @property
    def estimate(self) -> float:
        return self.factor * self.seconds

    async def look(self, aimed: bool) -> Look[str]:
        self.looks.append(aimed)
        left = self.seconds - (self.time.now - self.start)
        if left <= 0:
            self.ended_seen_at = self.time.now
            return Look(report="done", done=True, final="result")
        return Look(report="running", done=False, eta=None if aimed else self.factor * left)

    @property
    def lag(self) -> float:
        assert self.ended_seen_at is not None
        return self.ended_seen_at - (self.start + self.seconds)


def wait_on(
    time: VirtualTime, task: Task, calibration: Calibration | None = None, **policy: float
) -> Waiter[str]:
    clock = time.clock()
    schedule = Schedule(
        PollPolicy(**policy),
        first_eta=task.estimate,
        clock=clock,
        calibration=calibration,
        topic="wf",
    )
    return Waiter(task.look, schedule=schedule, deadline=Deadline(3600.0, clock=clock), clock=clock)


@pytest.mark.parametrize("seconds", [2.0, 30.0, 300.0])
@pytest.mark.parametrize("factor", [0.7, 1.0, 1.3])
async def test_one_reading_corrects_an_estimate_off_by_30_percent(
    seconds: float, factor: float
) -> None:
    time = VirtualTime()
    task = Task(time, seconds, factor)
    assert await wait_on(time, task).until_done() == "result"
    # A progress reading, then one look aimed at the corrected end: with the submit, three
    # requests, and the end seen within the margin and jitter cap.
    assert task.looks == [False, True]
    assert 0 <= task.lag <= 0.15 + 1e-9


@pytest.mark.parametrize("factor", [0.7, 1.3])
async def test_without_the_reading_a_wrong_estimate_costs_lag_or_requests(factor: float) -> None:
    # What the check-in is for: aimed at the estimate as given, a 300 s task whose estimates
    # are 30 % too long is seen 90 s late; one 30 % too short costs a string of misses.
    time = VirtualTime()
    task = Task(time, 300.0, factor)
    await wait_on(time, task, check_in=0).until_done()
    if factor > 1:
        assert task.lag > 60
    else:
        assert len(task.looks) > 4


async def test_a_learned_factor_serves_the_clients_later_waits_without_a_reading() -> None:
    time = VirtualTime()
    calibration = Calibration(300.0, clock=time.clock())
    first = Task(time, 30.0, 1.3)
    await wait_on(time, first, calibration).until_done()
    assert first.looks == [False, True]
    assert calibration.factor("wf") == pytest.approx(1.3)
    later = Task(time, 20.0, 1.3)
    await wait_on(time, later, calibration).until_done()
    assert later.looks == [True], "no reading of its own: one look, aimed right"
    assert 0 <= later.lag <= 0.15 + 1e-9
    # Past the ttl the factor is forgotten: the next wait reads for itself.
    time.advance(301.0)
    assert calibration.factor("wf") is None


async def test_in_a_fan_out_the_first_readings_teach_the_rest() -> None:
    time = SharedTime()
    calibration = Calibration(300.0, clock=time.clock())
    tasks = []
    async with anyio.create_task_group() as clock_runner:
        clock_runner.start_soon(time.run)
        async with anyio.create_task_group() as group:
            for n in range(100):
                task = Task(time, 2.0, 0.7)
                tasks.append(task)
                # Each wait draws its check-in moment in the last 15 % before 0.7 × the
                # estimate, spread evenly here.
                clock = time.clock()
                clock = type(clock)(
                    wall=clock.wall,
                    monotonic=clock.monotonic,
                    sleep=clock.sleep,
                    random=functools.partial(float, n / 100),
                )
                schedule = Schedule(
                    PollPolicy(),
                    first_eta=task.estimate,
                    clock=clock,
                    calibration=calibration,
                    topic="wf",
                )
                waiter = Waiter(
                    task.look, schedule=schedule, deadline=Deadline(60.0, clock=clock), clock=clock
                )
                group.start_soon(waiter.until_done)
        clock_runner.cancel_scope.cancel()
    looks = sum(len(task.looks) for task in tasks)
    # Most waits find the factor learned by the first readings and look once.
    assert len(tasks) <= looks < 1.2 * len(tasks), looks
    # Within the margin's cap plus the jitter's (the jitter is not zero here).
    policy = PollPolicy()
    bound = policy.eta_margin_cap + policy.jitter_cap
    assert max(task.lag for task in tasks) <= bound + 1e-9


async def test_a_watched_wait_takes_no_check_in() -> None:
    schedule = Schedule(PollPolicy(), first_eta=30.0, watched=True)
    assert schedule.plan().look


def test_check_in_is_validated() -> None:
    from speedpix_async import ConfigurationError

    with pytest.raises(ConfigurationError, match="check_in"):
        PollPolicy(check_in=1.5)


async def test_the_deadline_cuts_the_check_in_pause() -> None:
    from speedpix_async._core.waiting import WaitTimeout

    time = VirtualTime()
    task = Task(time, 300.0, 1.0)
    clock = time.clock()
    schedule = Schedule(PollPolicy(), first_eta=task.estimate, clock=clock, topic="wf")
    waiter = Waiter(task.look, schedule=schedule, deadline=Deadline(60.0, clock=clock), clock=clock)
    with pytest.raises(WaitTimeout):
        await waiter.until_done()
    # The check-in was due at 210 s: the wait stopped at its 60 s deadline without a look.
    assert task.looks == []
    assert time.now - task.start == pytest.approx(60.0)
