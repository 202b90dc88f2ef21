"""The unmodified official Python SDK (speedpix 1.0.4) works against the emulator.

It signs with its own code and serializes with httpx, sends explicit nulls and
the always-on X-SP-RESOURCE-CONFIG-ID header — a conformance check our client cannot give.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from speedpix_async.emulator import LoopbackServer

speedpix = pytest.importorskip("speedpix", reason="install the 'conformance' extra")

pytestmark = pytest.mark.loopback


@pytest.fixture
def official(server: LoopbackServer) -> Iterator[Any]:
    # The official client leaves its httpx.Client open unless closed explicitly.
    with speedpix.Client(
        app_key=server.emulator.app_key,
        app_secret=server.emulator.app_secret,
        endpoint=server.endpoint,
    ) as client:
        yield client


def test_official_client_runs_a_workflow(server: LoopbackServer, official: Any) -> None:
    output = official.run(
        workflow_id="wf-echo", input={"prompt": "一只猫", "n": 2}, alias_id="main"
    )
    assert output == {"echo": {"prompt": "一只猫", "n": 2}, "version": "v1"}
    stats = server.emulator.stats.snapshot()
    assert stats["auth_rejections"]["total"] == 0
    assert stats["tasks_created"]["total"] == 1


def test_official_client_sees_a_failed_task(official: Any) -> None:
    with pytest.raises(speedpix.PredictionError):
        official.run(workflow_id="wf-fail", input={"seconds": 0.1})


def test_official_client_with_a_wrong_secret_is_rejected(server: LoopbackServer) -> None:
    import httpx

    with (
        speedpix.Client(
            app_key=server.emulator.app_key, app_secret="wrong", endpoint=server.endpoint
        ) as client,
        pytest.raises(httpx.HTTPStatusError) as info,
    ):
        client.run(workflow_id="wf-echo", input={})
    assert info.value.response.status_code == 400
    assert info.value.response.headers["x-ca-error-message"].startswith("Invalid Signature")


def test_official_client_uploads_and_runs_the_white_background_sample(
    server: LoopbackServer, official: Any, tmp_path: Any
) -> None:
    from PIL import Image

    photo = tmp_path / "input.jpg"
    Image.new("RGB", (320, 240), (40, 90, 160)).save(photo)
    uploaded = official.files.create(str(photo))
    assert uploaded.access_url.startswith(server.endpoint)
    # The guide's own sample: a local path in the input, output["images"]["url"].save(...)
    output = official.run(
        workflow_id="wf-white-background",
        input={"text": "A beautiful landscape painting", "image": str(photo)},
        alias_id="main",
    )
    target = tmp_path / "output.png"
    output["images"]["url"].save(str(target))
    with Image.open(target) as image:
        assert image.size == (1024, 1024)
    assert server.emulator.stats.snapshot()["uploads"] == 2
