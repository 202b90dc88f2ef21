"""AI Portrait: how requests are signed and answers become data or typed errors, with scripted
responses."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx

from speedpix_async import (
    AsyncPortrait,
    CheckCode,
    FaceCountMismatchError,
    JobState,
    OutcomeUnknownError,
    PortraitAuthenticationError,
    PortraitError,
    PortraitInputError,
    PortraitNotFoundError,
    PortraitProcessingError,
    PortraitQuotaError,
    PortraitServerError,
    RateLimitError,
    ResponseValidationError,
    RetryPolicy,
)

HOST = "https://portrait.test"
APP_ID = "unit-app"
TOKEN = "unit-portrait-token-value"
CHECK = f"{HOST}/api/v1/aigc_images/check"
TRAIN = f"{HOST}/api/v1/aigc_images/train"
CREATE = f"{HOST}/api/v1/aigc_images/create"
URLS = ["https://photos.test/a.jpg", "https://photos.test/b.jpg"]
PNG_1X1 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJ"
    "AAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
NO_RETRY = RetryPolicy(max_retries=0)
FAST_RETRY = RetryPolicy(max_retries=2, initial_delay=0.0, max_delay=0.0, jitter=0.0)


@pytest.fixture
async def portrait() -> AsyncIterator[AsyncPortrait]:
    async with AsyncPortrait(HOST, APP_ID, TOKEN, retry_policy=NO_RETRY) as client:
        yield client


def ok(data: dict[str, Any]) -> httpx.Response:
    return httpx.Response(
        200, json={"request_id": "req-1", "code": "OK", "message": "success", "data": data}
    )


def refusal(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"request_id": "req-2", "code": code, "message": message})


def job_answer(**job: Any) -> httpx.Response:
    return ok({"job": {"id": 7, "app_id": APP_ID, "message": "", **job}})


def check_answer(urls: list[str], codes: list[int]) -> httpx.Response:
    results = [
        {"url": url, "code": code, "frontal": True, "message": "m"}
        for url, code in zip(urls, codes, strict=True)
    ]
    return ok({"images": urls, "check_results": results, "cost_time": 0.5})


@respx.mock
async def test_requests_are_signed_over_method_body_md5_and_path(portrait: AsyncPortrait) -> None:
    route = respx.post(CHECK).mock(return_value=check_answer(URLS, [1, 1]))
    await portrait.check_images(URLS)
    request = route.calls.last.request
    body = request.content
    assert json.loads(body) == {"action": "AIGCImageCheck", "images": URLS}
    sign_string = f"POST\n{hashlib.md5(body).hexdigest()}\n/api/v1/aigc_images/check"
    expected = hmac.new(TOKEN.encode(), sign_string.encode(), hashlib.sha256).hexdigest()
    assert request.headers["authorization"] == f"{APP_ID}:{expected}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-request-time"].isdigit()


@respx.mock
async def test_a_path_prefix_in_the_host_is_kept_out_of_the_signature() -> None:
    route = respx.post("https://gw.test/prefix/api/v1/aigc_images/check").mock(
        return_value=check_answer(URLS[:1], [1])
    )
    async with AsyncPortrait("https://gw.test/prefix/", APP_ID, TOKEN) as client:
        await client.check_images(URLS[:1])
    request = route.calls.last.request
    sign_string = f"POST\n{hashlib.md5(request.content).hexdigest()}\n/api/v1/aigc_images/check"
    expected = hmac.new(TOKEN.encode(), sign_string.encode(), hashlib.sha256).hexdigest()
    assert request.headers["authorization"] == f"{APP_ID}:{expected}"


@respx.mock
async def test_check_results_come_back_in_the_order_given(portrait: AsyncPortrait) -> None:
    respx.post(CHECK).mock(return_value=check_answer(URLS[::-1], [3, 1]))
    results = await portrait.check_images(URLS)
    assert [r.url for r in results] == URLS
    assert [r.code for r in results] == [CheckCode.OK, CheckCode.FACE_COUNT]
    assert results[1].meaning == "the photo does not hold exactly one face"
    assert results[0].ok
    assert not results[1].ok


@respx.mock
async def test_an_undocumented_check_code_is_kept(portrait: AsyncPortrait) -> None:
    respx.post(CHECK).mock(return_value=check_answer(URLS, [0, 7]))
    zero, result = await portrait.check_images(URLS)
    assert zero.code is CheckCode.NOT_MET
    assert not zero.ok
    assert "does not meet the requirements" in zero.meaning
    assert int(result.code) == 7
    assert not result.ok
    assert "does not describe" in result.meaning


@respx.mock
async def test_a_check_answer_missing_results_is_refused(portrait: AsyncPortrait) -> None:
    respx.post(CHECK).mock(return_value=check_answer(URLS[:1], [1]))
    with pytest.raises(ResponseValidationError, match="1 results for 2 images"):
        await portrait.check_images(URLS)


@respx.mock
@pytest.mark.parametrize(
    ("result", "model_id"),
    [
        (json.dumps({"model_id": "m-1", "cost_time": 12.5, "states": []}), "m-1"),
        ({"model_id": "m-2", "cost_time": 3}, "m-2"),  # an object, as the Java SDK reads it
    ],
)
async def test_a_finished_job_result_is_parsed(
    portrait: AsyncPortrait, result: Any, model_id: str
) -> None:
    respx.post(f"{HOST}/api/v1/async_jobs/7").mock(return_value=job_answer(state=2, Result=result))
    job = await portrait.jobs.get(7)
    assert job.state is JobState.SUCCESS
    assert job.succeeded
    assert job.result is not None
    assert job.result.model_id == model_id
    assert job.model_id == model_id
    assert job.result.raw["model_id"] == model_id


@respx.mock
@pytest.mark.parametrize("result", ["", None])
async def test_a_running_job_has_no_result(portrait: AsyncPortrait, result: Any) -> None:
    respx.post(f"{HOST}/api/v1/async_jobs/7").mock(
        return_value=job_answer(state=1, Result=result, message="training: 40%")
    )
    job = await portrait.jobs.get(7)
    assert job.state is JobState.WAIT
    assert not job.done
    assert job.result is None
    assert job.message == "training: 40%"


@respx.mock
@pytest.mark.parametrize(
    ("job", "match"),
    [
        ({"state": 4, "Result": ""}, "not one of the documented 0–3"),
        ({"state": "2", "Result": ""}, "not one of the documented 0–3"),
        ({"state": True, "Result": ""}, "not one of the documented 0–3"),
        ({"state": 2, "Result": "{not json"}, "Result is not a usable training result"),
        ({"state": 2, "Result": "[1, 2]"}, "Result is not a usable training result"),
    ],
)
async def test_broken_job_answers_name_the_field(
    portrait: AsyncPortrait, job: dict[str, Any], match: str
) -> None:
    respx.post(f"{HOST}/api/v1/async_jobs/7").mock(return_value=job_answer(**job))
    with pytest.raises(ResponseValidationError, match=match) as caught:
        await portrait.jobs.get(7)
    assert "$.data.job" in str(caught.value)


@respx.mock
async def test_a_job_answer_without_a_job_object_is_refused(portrait: AsyncPortrait) -> None:
    respx.post(f"{HOST}/api/v1/async_jobs/7").mock(return_value=ok({"jobs": []}))
    with pytest.raises(ResponseValidationError, match=r"no job object @ \$.data.job"):
        await portrait.jobs.get(7)


ERRORS = [
    (400, "PARAMETER_ERROR", "not found appid", PortraitAuthenticationError, "app_id="),
    (401, "PARAMETER_ERROR", "sign error", PortraitAuthenticationError, "token"),
    (400, "EXCEEDED_QUOTA_ERROR", "exceeded quota", PortraitQuotaError, "quota is used up"),
    (404, "PARAMETER_ERROR", "model not found", PortraitNotFoundError, "account manager"),
    (
        462,
        "error",
        "Prompts get error. Please check the model_id.",
        PortraitInputError,
        "model_id that train",
    ),
    (
        462,
        "error",
        "Roop image decode error. Please check the user's lora is trained or not.",
        PortraitInputError,
        "training has not finished",
    ),
    (
        462,
        "error",
        "Image not provided. Please check the template_image.",
        PortraitInputError,
        "template_image=",
    ),
    (
        462,
        "error",
        "There is not face in template. Please Give a new template.",
        PortraitInputError,
        "template holds no face",
    ),
    (
        469,
        "error",
        "Please confirm if the number of faces in the template corresponds to the user ID.",
        FaceCountMismatchError,
        "one model id per face",
    ),
    (
        469,
        "error",
        "First Face Fusion Error, Can't get face in template image.",
        PortraitProcessingError,
        "face fusion",
    ),
    (
        500,
        "error",
        "Face id image decode error. Pleace check the user's lora is trained or not.",
        PortraitServerError,
        "training succeeded",
    ),
]


@respx.mock
@pytest.mark.parametrize(("status", "code", "message", "error", "hint"), ERRORS)
async def test_refusals_map_to_typed_errors_that_name_the_fix(
    portrait: AsyncPortrait,
    status: int,
    code: str,
    message: str,
    error: type[PortraitError],
    hint: str,
) -> None:
    route = respx.post(CREATE).mock(return_value=refusal(status, code, message))
    with pytest.raises(error) as caught:
        await portrait.create("https://photos.test/t.jpg", model_id="m-1")
    raised = caught.value
    assert type(raised) is error
    assert hint in str(raised)
    assert raised.status_code == status
    assert raised.code == code
    assert raised.server_message == message
    assert raised.request_id == "req-2"
    assert TOKEN not in str(raised)
    assert TOKEN not in repr(raised)
    assert route.call_count == 1


@respx.mock
async def test_a_non_json_error_page_is_blamed_on_a_proxy(portrait: AsyncPortrait) -> None:
    respx.post(CHECK).mock(return_value=httpx.Response(502, text="<html>Bad Gateway</html>"))
    with pytest.raises(PortraitServerError, match="proxy or load balancer") as caught:
        await portrait.check_images(URLS[:1])
    assert caught.value.status_code == 502


@respx.mock
async def test_throttling_is_a_rate_limit_error(portrait: AsyncPortrait) -> None:
    respx.post(CHECK).mock(return_value=refusal(429, "TOO_MANY_REQUESTS", "slow down"))
    with pytest.raises(RateLimitError, match="lower the request rate"):
        await portrait.check_images(URLS[:1])


@respx.mock
@pytest.mark.parametrize(
    ("body", "error", "match"),
    [
        ({"request_id": "r", "code": "FAILED", "message": "x"}, PortraitError, "'FAILED'"),
        ({"request_id": "r", "code": "OK"}, ResponseValidationError, "no data object"),
        ([1, 2], ResponseValidationError, "JSON object envelope"),
    ],
)
async def test_odd_successes_are_refused(
    portrait: AsyncPortrait, body: Any, error: type[Exception], match: str
) -> None:
    respx.post(CHECK).mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(error, match=match):
        await portrait.check_images(URLS[:1])


@respx.mock
@pytest.mark.parametrize("operation", ["train", "create"])
async def test_lost_answers_to_train_and_create_are_never_resent(operation: str) -> None:
    route = respx.post(TRAIN if operation == "train" else CREATE).mock(
        return_value=httpx.Response(504, text="gateway timeout")
    )
    async with AsyncPortrait(HOST, APP_ID, TOKEN, retry_policy=FAST_RETRY) as client:
        send = (
            client.train(URLS)
            if operation == "train"
            else client.create("https://photos.test/t.jpg", model_id="m-1")
        )
        with pytest.raises(OutcomeUnknownError, match="does not send it again") as caught:
            await send
    assert caught.value.operation == operation
    assert route.call_count == 1


@respx.mock
async def test_refusals_before_the_work_are_retried_even_for_train() -> None:
    route = respx.post(TRAIN).mock(
        side_effect=[
            refusal(503, "SERVICE_UNAVAILABLE", "busy"),
            refusal(429, "TOO_MANY_REQUESTS", "slow down"),
            ok({"job_id": 11, "model_id": "m-11"}),
        ]
    )
    async with AsyncPortrait(HOST, APP_ID, TOKEN, retry_policy=FAST_RETRY) as client:
        handle = await client.train(URLS)
    assert (handle.job_id, handle.model_id) == (11, "m-11")
    assert route.call_count == 3


@respx.mock
async def test_idempotent_calls_are_retried_after_a_lost_answer() -> None:
    route = respx.post(CHECK).mock(
        side_effect=[httpx.Response(504, text="late"), check_answer(URLS[:1], [1])]
    )
    async with AsyncPortrait(HOST, APP_ID, TOKEN, retry_policy=FAST_RETRY) as client:
        (result,) = await client.check_images(URLS[:1])
    assert result.ok
    assert route.call_count == 2


@respx.mock
async def test_train_sends_the_guide_bodies_for_each_kind(portrait: AsyncPortrait) -> None:
    route = respx.post(TRAIN).mock(return_value=ok({"job_id": 1, "model_id": "m"}))
    await portrait.train(URLS)
    await portrait.train(URLS, kind="sdxl")
    await portrait.train(URLS, kind="scene_lora", prompts=["a beach", "a forest"])
    bodies = [json.loads(call.request.content) for call in route.calls]
    assert bodies[0] == {"action": "AIGCImageTrain", "images": URLS}
    assert bodies[1] == {"action": "AIGCImageTrain", "images": URLS, "model_name": "train_xl"}
    assert bodies[2] == {
        "action": "AIGCImageTrain",
        "images": URLS,
        "model_name": "train_xl",
        "configure": {"train_scene_lora_bool": True, "scene_lora_prompts": ["a beach", "a forest"]},
    }


@respx.mock
async def test_create_sends_the_guide_bodies_for_each_mode(portrait: AsyncPortrait) -> None:
    route = respx.post(CREATE).mock(return_value=ok({"image": PNG_1X1, "cost_time": 1.0}))
    template = "https://photos.test/t.jpg"
    await portrait.create(template, model_id="m-1")
    await portrait.create(template, model_ids=["m-1", "m-2"])
    await portrait.create(
        template, config={"ipa_control_only": True, "ipa_image_path": "https://photos.test/r.jpg"}
    )
    await portrait.create(model_id="m-1", config={"t2i_prompt": "a portrait in a garden"})
    await portrait.create(model_id="m-1", kind="sdxl", config={"scene_id": "scene-1"})
    bodies = [json.loads(call.request.content) for call in route.calls]
    assert bodies[0] == {
        "action": "AIGCImageCreate",
        "model_id": "m-1",
        "template_image": template,
    }
    assert bodies[1]["model_id"] == ""
    assert bodies[1]["model_ids"] == ["m-1", "m-2"]
    assert bodies[2]["model_id"] == ""
    assert bodies[2]["configure"] == {
        "ipa_control_only": True,
        "ipa_image_path": "https://photos.test/r.jpg",
    }
    assert bodies[3]["template_image"] == "t2i_generate"
    assert bodies[3]["configure"] == {"t2i_prompt": "a portrait in a garden"}
    assert bodies[4]["model_name"] == "create_xl"
    assert bodies[4]["template_image"] == "t2i_generate"


@respx.mock
async def test_the_created_image_is_decoded_and_measured(portrait: AsyncPortrait) -> None:
    respx.post(CREATE).mock(return_value=ok({"image": PNG_1X1, "cost_time": 21.5}))
    image = await portrait.create("https://photos.test/t.jpg", model_id="m-1")
    assert (image.width, image.height, image.format) == (1, 1, "png")
    assert image.cost_time == 21.5
    assert image.request_id == "req-1"
    assert image.data[:8] == b"\x89PNG\r\n\x1a\n"


@respx.mock
@pytest.mark.parametrize(
    ("image", "match"),
    [("not base64!", "not valid base64"), ("aGVsbG8gd29ybGQ=", "not a PNG, JPEG or WebP")],
)
async def test_a_created_image_that_is_not_a_picture_is_refused(
    portrait: AsyncPortrait, image: str, match: str
) -> None:
    respx.post(CREATE).mock(return_value=ok({"image": image}))
    with pytest.raises(ResponseValidationError, match=match):
        await portrait.create("https://photos.test/t.jpg", model_id="m-1")


def test_the_token_never_shows(portrait: AsyncPortrait) -> None:
    assert TOKEN not in repr(portrait)
    assert APP_ID in repr(portrait)
