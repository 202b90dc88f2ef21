"""The blocking AI Portrait client over a real socket: the same journey as the async one, plain
callbacks and iterators, the same typed errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from speedpix_async import (
    FaceCountMismatchError,
    InputError,
    Job,
    JobState,
    PollPolicy,
    PortraitJobTimeoutError,
)
from speedpix_async.emulator import Emulator, LoopbackServer
from speedpix_async.emulator.portrait.faces import find_faces
from speedpix_async.sync import JobHandle, Portrait, PortraitImage

pytestmark = [pytest.mark.loopback, pytest.mark.backends]

POLL = PollPolicy(
    min_interval=0.05, max_interval=0.1, fallback_interval=0.05, backoff=1.5, watch_interval=0.05
)


@pytest.fixture
def portrait_server() -> Iterator[LoopbackServer]:
    with Emulator(time_scale=0.01).serve() as running:
        yield running


@pytest.fixture
def portrait(portrait_server: LoopbackServer) -> Iterator[Portrait]:
    emulator = portrait_server.emulator
    with Portrait(
        portrait_server.endpoint,
        emulator.portrait_app_id,
        emulator.portrait_token,
        poll_policy=POLL,
    ) as client:
        yield client


def photos(server: LoopbackServer, person: int) -> list[str]:
    return [server.sample_url(f"portrait-{person}-{n}.jpg") for n in range(3)]


def test_blocking_check_train_create_and_save(
    portrait: Portrait, portrait_server: LoopbackServer, tmp_path: Path
) -> None:
    assert all(result.ok for result in portrait.check_images(photos(portrait_server, 1)))
    handle = portrait.train(photos(portrait_server, 1))
    assert isinstance(handle, JobHandle)
    seen: list[Job] = []
    job = handle.wait(on_progress=seen.append)
    assert job.succeeded
    assert seen[-1].state is JobState.SUCCESS
    image = portrait.create(portrait_server.sample_url("template-1.jpg"), model_id=job.model_id)
    assert isinstance(image, PortraitImage)
    saved = image.save(tmp_path / f"portrait{image.extension}")
    assert saved.read_bytes() == image.data == image.read()
    assert [face.person for face in find_faces(saved.read_bytes())[2]] == [1]
    assert list(tmp_path.iterdir()) == [saved]  # no temporary file left behind


def test_watch_is_a_plain_iterator_and_waits_resume_by_id(
    portrait: Portrait, portrait_server: LoopbackServer
) -> None:
    handle = portrait.train(photos(portrait_server, 2))
    with pytest.raises(PortraitJobTimeoutError) as caught:
        handle.wait(timeout=0.02)
    states = [job.state for job in portrait.jobs.handle(caught.value.job_id).watch()]
    assert states[-1] is JobState.SUCCESS
    assert portrait.jobs.wait(handle.job_id).model_id == handle.model_id


def test_errors_keep_their_types(portrait: Portrait, portrait_server: LoopbackServer) -> None:
    first = portrait.train(photos(portrait_server, 0)).wait().model_id
    second = portrait.train(photos(portrait_server, 3)).wait().model_id
    assert first is not None
    assert second is not None
    with pytest.raises(FaceCountMismatchError):
        portrait.create(portrait_server.sample_url("template-1.jpg"), model_ids=[first, second])
    with pytest.raises(InputError, match="model_ids is for a group"):
        portrait.create(portrait_server.sample_url("template-1.jpg"), model_ids=[first])


def test_with_options_shares_the_pool(portrait: Portrait, portrait_server: LoopbackServer) -> None:
    quick = portrait.with_options(timeout=30, max_retries=0)
    assert quick.check_images(photos(portrait_server, 4)[:1])[0].ok
    quick.close()
    assert not portrait.closed
    assert portrait.check_images(photos(portrait_server, 4)[:1])[0].ok
