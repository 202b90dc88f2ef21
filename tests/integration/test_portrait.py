"""AI Portrait end to end against the emulator: checks, training jobs, every create mode of the
guide, every documented error, lost answers and waits that time out and resume."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from speedpix_async import (
    AsyncPortrait,
    CheckCode,
    FaceCountMismatchError,
    InputError,
    Job,
    JobState,
    OutcomeUnknownError,
    PollPolicy,
    PortraitAuthenticationError,
    PortraitInputError,
    PortraitJobFailedError,
    PortraitJobTimeoutError,
    PortraitNotFoundError,
    PortraitProcessingError,
    PortraitQuotaError,
    PortraitServerError,
)
from speedpix_async.emulator import Emulator, LoopbackServer
from speedpix_async.emulator.portrait.faces import find_faces
from tests.conftest import FAST_RETRY

#: The loopback tests here are part of the transport suite (run once per HTTP backend).
pytestmark = pytest.mark.backends

#: Training takes 0.6 s and a portrait 0.02 s at this scale.
SCALE = 0.01
POLL = PollPolicy(
    min_interval=0.05, max_interval=0.1, fallback_interval=0.05, backoff=1.5, watch_interval=0.05
)
TRAIN_ROUTE = "/api/v1/aigc_images/train"
CREATE_ROUTE = "/api/v1/aigc_images/create"
JOB_ROUTE = "/api/v1/async_jobs"


@pytest.fixture
def emulator() -> Emulator:
    return Emulator(time_scale=SCALE)


@pytest.fixture
async def portrait(emulator: Emulator) -> AsyncIterator[AsyncPortrait]:
    async with emulator.portrait_client(retry_policy=FAST_RETRY, poll_policy=POLL) as client:
        yield client


def photos(emulator: Emulator, person: int, count: int = 4) -> list[str]:
    return [emulator.sample_url(f"portrait-{person}-{n}.jpg") for n in range(count)]


def persons_in(data: bytes) -> list[int]:
    """The people whose faces a picture shows, left to right (the emulator's face rule)."""
    _, _, faces = find_faces(data)
    return [face.person for face in sorted(faces, key=lambda face: face.box[0])]


def requests_to(emulator: Emulator, route: str) -> int:
    count: int = emulator.stats.snapshot()["requests"]["by_route"].get(route, 0)
    return count


async def trained(portrait: AsyncPortrait, urls: list[str], **kwargs: Any) -> str:
    job = await (await portrait.train(urls, **kwargs)).wait()
    assert job.model_id is not None
    return job.model_id


async def test_check_reports_each_documented_code(
    emulator: Emulator, portrait: AsyncPortrait
) -> None:
    names = {
        "portrait-0-0.jpg": CheckCode.OK,
        "portrait-0-1.png": CheckCode.OK,
        "portrait-0-2-profile.jpg": CheckCode.OK,
        "portrait-0-3-pair.jpg": CheckCode.FACE_COUNT,
        "portrait-0-4-small.jpg": CheckCode.DETECTION_FAILED,
        "portrait-0-5-border.jpg": CheckCode.NOT_ENCODABLE,
        "portrait-1-0.jpg": CheckCode.DIFFERENT_PERSON,
        "scene-1.jpg": CheckCode.FACE_COUNT,
    }
    urls = [emulator.sample_url(name) for name in names]
    urls.append(urls[0].replace("portrait-0-0.jpg", "nobody.jpg"))
    results = await portrait.check_images(urls)
    assert [r.url for r in results] == urls
    assert [r.code for r in results] == [*names.values(), CheckCode.UNREADABLE]
    assert [r.frontal for r in results[:3]] == [True, True, False]
    assert results[-1].meaning == "the photo cannot be downloaded or decoded"


async def test_train_wait_and_create_one_person(
    emulator: Emulator, portrait: AsyncPortrait
) -> None:
    handle = await portrait.train(photos(emulator, 2))
    assert handle.job.state is JobState.INIT
    assert handle.model_id
    seen: list[Job] = []
    job = await handle.wait(on_progress=seen.append)
    assert job.succeeded
    assert job.result is not None
    assert job.result.model_id == handle.model_id == job.model_id
    assert job.result.cost_time is not None
    assert len(job.result.states) == 4
    assert JobState.WAIT in {snapshot.state for snapshot in seen}
    assert seen[-1] is job

    template = emulator.sample_url("template-1.jpg")
    image = await portrait.create(template, model_id=job.model_id)
    assert image.format == "png"
    assert image.size == (768, 768)
    assert persons_in(image.data) == [2]
    assert emulator.stats.snapshot()["portrait"] == {"jobs_created": 1, "portraits_created": 1}


async def test_a_job_can_be_watched_and_waited_on_by_id(
    emulator: Emulator, portrait: AsyncPortrait
) -> None:
    handle = await portrait.train(photos(emulator, 0, 3))
    states = [job.state async for job in handle.watch()]
    assert states[-1] is JobState.SUCCESS
    assert JobState.WAIT in states
    again = await portrait.jobs.wait(handle.job_id)
    assert again.model_id == handle.model_id
    assert (await portrait.jobs.get(handle.job_id)).succeeded
    reloaded = portrait.jobs.handle(handle.job_id)
    assert (await reloaded.reload()).result is not None


async def test_a_training_on_bad_photos_fails_with_the_reason(
    emulator: Emulator, portrait: AsyncPortrait
) -> None:
    urls = [*photos(emulator, 0, 3), emulator.sample_url("portrait-0-9-pair.jpg")]
    handle = await portrait.train(urls)
    with pytest.raises(PortraitJobFailedError, match="photo 4") as caught:
        await handle.wait()
    assert caught.value.job_id == handle.job_id
    assert caught.value.job.state is JobState.FAILED
    assert "check_images()" in str(caught.value)


async def test_a_wait_that_times_out_can_be_resumed(
    emulator: Emulator, portrait: AsyncPortrait
) -> None:
    handle = await portrait.train(photos(emulator, 1, 3))
    with pytest.raises(PortraitJobTimeoutError, match=r"resume with client.jobs.wait\(") as caught:
        await handle.wait(timeout=0.05)
    assert caught.value.job_id == handle.job_id
    assert not caught.value.server_unreachable
    job = await portrait.jobs.wait(caught.value.job_id, timeout=10)
    assert job.succeeded
    assert emulator.stats.snapshot()["portrait"]["jobs_created"] == 1


async def test_an_unknown_job_is_not_found(portrait: AsyncPortrait) -> None:
    with pytest.raises(PortraitNotFoundError, match="job ids come from train"):
        await portrait.jobs.get(424242)


async def test_a_group_portrait_puts_each_person_in_place(
    emulator: Emulator, portrait: AsyncPortrait
) -> None:
    first = await trained(portrait, photos(emulator, 0, 3))
    second = await trained(portrait, photos(emulator, 4, 3))
    image = await portrait.create(emulator.sample_url("template-2.jpg"), model_ids=[first, second])
    assert persons_in(image.data) == [0, 4]
    with pytest.raises(FaceCountMismatchError, match="exactly 2 face") as caught:
        await portrait.create(emulator.sample_url("template-1.jpg"), model_ids=[first, second])
    assert caught.value.status_code == 469
    assert "number of faces" in (caught.value.server_message or "")


async def test_reference_only_and_prompt_portraits(
    emulator: Emulator, portrait: AsyncPortrait
) -> None:
    reference = emulator.sample_url("portrait-5-0.jpg")
    image = await portrait.create(
        emulator.sample_url("template-1.jpg"),
        config={"ipa_control_only": True, "ipa_image_path": reference, "ipa_weight": 0.6},
    )
    assert persons_in(image.data) == [5]

    model = await trained(portrait, photos(emulator, 3, 3))
    image = await portrait.create(
        model_id=model, config={"t2i_prompt": "a portrait in a garden", "style_name": "Anime"}
    )
    assert image.size == (768, 1024)
    assert persons_in(image.data) == [3]


async def test_sdxl_models_and_scene_loras(emulator: Emulator, portrait: AsyncPortrait) -> None:
    model = await trained(portrait, photos(emulator, 1, 3), kind="sdxl")
    scenes = [emulator.sample_url(f"scene-{n}.jpg") for n in range(3)]
    scene = await trained(portrait, scenes, kind="scene_lora", prompts=["beach"] * 3)
    image = await portrait.create(
        model_id=model,
        kind="sdxl",
        config={"scene_id": scene, "first_diffusion_steps": 30, "lcm_accelerate": True},
    )
    assert persons_in(image.data) == [1]
    # An SD 1.5 call with an SDXL model is a wrong model id for the service.
    with pytest.raises(PortraitInputError, match="model_id that train"):
        await portrait.create(emulator.sample_url("template-1.jpg"), model_id=model)


@pytest.mark.parametrize(
    ("template", "error", "match"),
    [
        ("scene-0.jpg", PortraitInputError, "template holds no face"),
        ("template-1-small.jpg", PortraitInputError, "could not be prepared"),
        ("template-1-border.jpg", PortraitProcessingError, "face fusion"),
        ("nothing-here.jpg", PortraitInputError, "cannot be read"),
    ],
)
async def test_unusable_templates_are_refused_with_the_fix(
    emulator: Emulator,
    portrait: AsyncPortrait,
    template: str,
    error: type[Exception],
    match: str,
) -> None:
    model = await trained(portrait, photos(emulator, 0, 3))
    url = emulator.sample_url("template-1.jpg").replace("template-1.jpg", template)
    with pytest.raises(error, match=match):
        await portrait.create(url, model_id=model)


async def test_creating_before_the_training_finished_says_to_wait(
    emulator: Emulator, portrait: AsyncPortrait
) -> None:
    handle = await portrait.train(photos(emulator, 0, 3))
    assert handle.model_id is not None
    with pytest.raises(PortraitInputError, match=r"client.jobs.wait\(job_id\)"):
        await portrait.create(emulator.sample_url("template-1.jpg"), model_id=handle.model_id)
    with pytest.raises(PortraitInputError, match="model_id that train"):
        await portrait.create(emulator.sample_url("template-1.jpg"), model_id="no-such-model")


async def test_a_lost_face_reference_is_a_server_error(
    emulator: Emulator, portrait: AsyncPortrait
) -> None:
    model = await trained(portrait, photos(emulator, 0, 3))
    emulator.portrait.corrupt_model(model)
    with pytest.raises(PortraitServerError, match="check that its training succeeded") as caught:
        await portrait.create(emulator.sample_url("template-1.jpg"), model_id=model)
    assert caught.value.status_code == 500
    assert requests_to(emulator, CREATE_ROUTE) == 1  # a 500 on create is not retried


async def test_credentials_quota_and_sdxl_activation_errors() -> None:
    emulator = Emulator(time_scale=SCALE, portrait_quota=1, portrait_sdxl=False)
    url = [emulator.sample_url("portrait-0-0.jpg")]
    async with emulator.portrait_client(app_id="someone-else") as client:
        with pytest.raises(PortraitAuthenticationError, match="PAI_PORTRAIT_APP_ID"):
            await client.check_images(url)
    async with emulator.portrait_client(token="wrong-token") as client:
        with pytest.raises(PortraitAuthenticationError, match="PAI_PORTRAIT_TOKEN") as caught:
            await client.check_images(url)
        assert caught.value.status_code == 401
        assert "wrong-token" not in str(caught.value)
    async with emulator.portrait_client() as client:
        with pytest.raises(PortraitNotFoundError, match="account manager"):
            await client.train(url * 3, kind="sdxl")
        with pytest.raises(PortraitQuotaError, match="top it up"):
            await client.check_images(url)
    rejected = emulator.stats.snapshot()["auth_rejections"]["by_reason"]
    assert rejected == {"portrait_unknown_app_id": 1, "portrait_sign_error": 1}


@pytest.mark.parametrize("phase", ["before", "after"])
@pytest.mark.parametrize("operation", ["train", "create"])
@pytest.mark.parametrize("kind", ["reset", "malformed"])
async def test_a_lost_answer_is_reported_and_never_resent(
    emulator: Emulator, portrait: AsyncPortrait, operation: str, kind: str, phase: str
) -> None:
    # Whether the work was done before the answer was lost, the client cannot tell: both are
    # reported the same way, and the request is sent once.
    model = await trained(portrait, photos(emulator, 0, 3)) if operation == "create" else ""
    route = TRAIN_ROUTE if operation == "train" else CREATE_ROUTE
    emulator.faults.script(kind, route=route, phase=phase)
    send = (
        portrait.train(photos(emulator, 1, 3))
        if operation == "train"
        else portrait.create(emulator.sample_url("template-1.jpg"), model_id=model)
    )
    with pytest.raises(OutcomeUnknownError, match="may or may not have been made") as caught:
        await send
    assert caught.value.operation == operation
    stats = emulator.stats.snapshot()
    assert stats["requests"]["by_route"][route] == 1
    done = 1 if phase == "after" else 0
    assert stats["portrait"] == (
        {"jobs_created": done, "portraits_created": 0}
        if operation == "train"
        else {"jobs_created": 1, "portraits_created": done}
    )


@pytest.mark.parametrize("kind", ["throttle", "unavailable"])
async def test_refusals_before_the_work_are_retried_into_one_job(
    emulator: Emulator, portrait: AsyncPortrait, kind: str
) -> None:
    emulator.faults.script(kind, route=TRAIN_ROUTE, times=2)
    job = await (await portrait.train(photos(emulator, 0, 3))).wait()
    assert job.succeeded
    stats = emulator.stats.snapshot()
    assert stats["requests"]["by_route"][TRAIN_ROUTE] == 3
    assert stats["portrait"]["jobs_created"] == 1


@pytest.mark.parametrize("kind", ["throttle", "unavailable", "reset", "malformed"])
async def test_failed_polls_are_waited_out(
    emulator: Emulator, portrait: AsyncPortrait, kind: str
) -> None:
    handle = await portrait.train(photos(emulator, 0, 3))
    emulator.faults.script(kind, route=JOB_ROUTE, times=3)
    job = await handle.wait()
    assert job.succeeded
    assert emulator.stats.snapshot()["faults_injected"]["by_kind"][kind] == 3


async def test_bad_config_is_refused_before_anything_is_sent(
    emulator: Emulator, portrait: AsyncPortrait
) -> None:
    template = emulator.sample_url("template-1.jpg")
    with pytest.raises(InputError, match="lora_weights"):
        await portrait.create(template, model_id="m", config={"lora_weights": 2})
    with pytest.raises(InputError, match="SDXL"):
        await portrait.create(template, model_id="m", config={"first_diffusion_steps": 30})
    assert emulator.stats.snapshot()["requests"]["total"] == 0


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with Emulator(time_scale=SCALE).serve() as running:
        yield running


@pytest.mark.loopback
async def test_the_whole_journey_over_a_real_socket(server: LoopbackServer) -> None:
    urls = [server.sample_url(f"portrait-3-{n}.png") for n in range(3)]
    async with server.portrait_client(poll_policy=POLL) as portrait:
        assert all(result.ok for result in await portrait.check_images(urls))
        job = await (await portrait.train(urls)).wait()
        image = await portrait.create(server.sample_url("template-1.png"), model_id=job.model_id)
    assert persons_in(image.data) == [3]
    assert server.emulator.stats.snapshot()["auth_rejections"]["total"] == 0
