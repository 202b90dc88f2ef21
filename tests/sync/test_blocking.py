"""The blocking client against the emulator over loopback."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from PIL import Image

import speedpix_async.sync as speedpix
from speedpix_async import (
    ClientClosedError,
    ConfigurationError,
    InputError,
    PredictionFailedError,
    PredictionTimeoutError,
    Progress,
    SyncInAsyncWarning,
    TaskStatus,
    UnsupportedOperationError,
)
from speedpix_async.emulator import Emulator, LoopbackServer, make_sample_photo
from speedpix_async.sync import SpeedPix
from tests.conftest import FAST_POLL, FAST_RETRY, needs_sigint

pytestmark = [pytest.mark.loopback, pytest.mark.backends]


def portal_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("speedpix-portal")]


@pytest.fixture
def sync_client(server: LoopbackServer) -> Iterator[SpeedPix]:
    with SpeedPix(
        server.emulator.app_key,
        server.emulator.app_secret,
        endpoint=server.endpoint,
        retry_policy=FAST_RETRY,
        poll_policy=FAST_POLL,
    ) as client:
        yield client


def test_blocking_run_with_an_upload_and_save(sync_client: SpeedPix, tmp_path: Path) -> None:
    photo = make_sample_photo(tmp_path / "input.jpg")
    output = sync_client.run("wf-white-background", {"image": photo, "text": "blocking"})
    url = output["images"]["url"]
    assert isinstance(url, speedpix.FileOutput)
    saved = url.save(tmp_path / "result.png")
    with Image.open(saved) as image:
        assert image.size == (1024, 1024)
    assert url.read() == saved.read_bytes()
    assert b"".join(url.iter_bytes(chunk_size=4096)) == saved.read_bytes()


def test_handles_resources_and_typed_results(sync_client: SpeedPix, tmp_path: Path) -> None:
    handle = sync_client.run("wf-sleep", {"seconds": 1}, wait=False)
    assert isinstance(handle, speedpix.PredictionHandle)
    assert handle.status == TaskStatus.WAITING
    assert isinstance(handle.reload().status, TaskStatus)
    final = sync_client.predictions.wait(handle.id)
    assert final.output == {"slept": 1}
    with pytest.raises(UnsupportedOperationError):
        handle.cancel()
    with pytest.raises(UnsupportedOperationError):
        sync_client.predictions.list()

    uploaded = sync_client.files.create(b"\x89PNG\r\n\x1a\n" + bytes(64))
    assert uploaded.content_type == "image/png"
    assert sync_client.files.from_url(uploaded.access_url).read().startswith(b"\x89PNG")

    @attrs.frozen
    class Result:
        images: speedpix.ImageFile
        info: str

    photo = make_sample_photo(tmp_path / "p.jpg")
    result = sync_client.run("wf-white-background", {"image": photo}, output_type=Result)
    assert isinstance(result.images, speedpix.ImageFile)
    assert result.images.width == 1024
    assert result.images.save(tmp_path / "typed.png").exists()


def test_errors_keep_their_types(sync_client: SpeedPix) -> None:
    with pytest.raises(PredictionFailedError, match="out of memory"):
        sync_client.run("wf-fail", {"message": "out of memory"})
    with pytest.raises(PredictionTimeoutError):
        sync_client.run("wf-sleep", {"seconds": 50}, timeout=0.05)
    with pytest.raises(InputError):
        sync_client.run("wf-echo", {"x": object()})


def test_watch_is_a_plain_iterator(sync_client: SpeedPix) -> None:
    handle = sync_client.predictions.create("wf-sleep", {"seconds": 2})
    statuses = [str(report.status) for report in handle.watch(polling_interval=0.05)]
    assert statuses[-1] == "succeeded"
    assert "running" in statuses


def test_stopping_a_watch_early_stops_polling(
    sync_client: SpeedPix, server: LoopbackServer
) -> None:
    handle = sync_client.predictions.create("wf-sleep", {"seconds": 50})
    with handle.watch(polling_interval=0.05) as reports:
        submitted = next(reports)  # what the submit answered, at once
        first = next(reports)  # the first poll
    assert submitted.message == "submitted"
    assert not first.status.is_terminal
    polls = server.emulator.stats.snapshot()["requests"]["by_route"]["/scc/comfy_get_progress"]
    time.sleep(0.3)
    assert (
        server.emulator.stats.snapshot()["requests"]["by_route"]["/scc/comfy_get_progress"] == polls
    )


def test_eight_threads_share_one_client(sync_client: SpeedPix) -> None:
    results: dict[int, Any] = {}
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            results[n] = sync_client.run("wf-echo", {"n": n})["echo"]["n"]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert results == {n: n for n in range(8)}
    assert len(portal_threads()) == 1


def test_called_inside_a_running_loop_it_works_and_warns_once(sync_client: SpeedPix) -> None:
    async def notebook_cell() -> list[Any]:
        return [sync_client.run("wf-echo", {"cell": 1}), sync_client.run("wf-echo", {"cell": 2})]

    with pytest.warns(SyncInAsyncWarning, match="AsyncSpeedPix") as record:
        outputs = asyncio.run(notebook_cell())
    assert [o["echo"]["cell"] for o in outputs] == [1, 2]
    assert len([w for w in record if issubclass(w.category, SyncInAsyncWarning)]) == 1
    assert issubclass(SyncInAsyncWarning, RuntimeWarning)


def test_a_call_from_the_loop_thread_raises_instead_of_deadlocking(sync_client: SpeedPix) -> None:
    def on_progress(report: Progress) -> None:
        sync_client.predictions.get(report.task_id)  # would wait on its own thread

    started = time.monotonic()
    with pytest.raises(ConfigurationError, match="own event-loop thread"):
        sync_client.run("wf-sleep", {"seconds": 1}, on_progress=on_progress, polling_interval=0.05)
    assert time.monotonic() - started < 10


@needs_sigint
def test_sigint_during_a_long_wait_cancels_the_task(
    sync_client: SpeedPix, server: LoopbackServer
) -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals are delivered to the main thread")
    timer = threading.Timer(0.4, os.kill, args=(os.getpid(), signal.SIGINT))
    started = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        sync_client.run("wf-sleep", {"seconds": 60}, polling_interval=0.05)
    elapsed = time.monotonic() - started
    timer.join()
    assert elapsed < 3, f"KeyboardInterrupt took {elapsed:.2f}s"
    # A poll already on the wire when the call was cancelled may still reach the server; after
    # that, with a 0.02 s interval, a poll still going would show within 0.3 s.
    time.sleep(0.1)
    polls = server.emulator.stats.snapshot()["requests"]["by_route"]["/scc/comfy_get_progress"]
    assert polls >= 1
    time.sleep(0.3)
    assert (
        server.emulator.stats.snapshot()["requests"]["by_route"]["/scc/comfy_get_progress"] == polls
    )
    # The client is still usable afterwards.
    assert sync_client.run("wf-echo", {"after": True})["echo"] == {"after": True}


def test_close_is_idempotent_and_leaves_no_thread(server: LoopbackServer) -> None:
    before = portal_threads()
    client = SpeedPix(server.emulator.app_key, server.emulator.app_secret, endpoint=server.endpoint)
    client.run("wf-echo", {})
    assert len(portal_threads()) == len(before) + 1
    client.close()
    client.close()
    assert portal_threads() == before
    with pytest.raises(ConfigurationError, match="closed"):
        client.run("wf-echo", {})


def test_an_unclosed_client_is_cleaned_up_by_the_garbage_collector(server: LoopbackServer) -> None:
    before = portal_threads()
    client = SpeedPix(server.emulator.app_key, server.emulator.app_secret, endpoint=server.endpoint)
    client.run("wf-echo", {})
    assert len(portal_threads()) == len(before) + 1
    del client
    gc.collect()
    deadline = time.monotonic() + 5
    while portal_threads() != before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert portal_threads() == before


def test_outputs_keep_their_client_alive(server: LoopbackServer, tmp_path: Path) -> None:
    output = SpeedPix(
        server.emulator.app_key, server.emulator.app_secret, endpoint=server.endpoint
    ).run("wf-text-to-image", {"prompt": "kept", "width": 64, "height": 64, "steps": 1})
    gc.collect()
    # The client object is gone, but the output still references its runner and can download.
    assert output["images"][0].save(tmp_path / "kept.png").stat().st_size > 0


def test_a_client_used_after_fork_says_so(sync_client: SpeedPix) -> None:
    sync_client.run("wf-echo", {})  # the loop thread exists in the parent
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork() with threads (3.12+)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            sync_client.run("wf-echo", {})
        except ConfigurationError as exc:
            os._exit(0 if "after fork()" in str(exc) else 3)
        except BaseException:
            os._exit(4)
        os._exit(5)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status)
    assert os.WEXITSTATUS(status) == 0


def test_with_options_shares_the_loop_and_closing_it_keeps_the_parent(
    sync_client: SpeedPix,
) -> None:
    quick = sync_client.with_options(max_retries=0)
    assert isinstance(quick, SpeedPix)
    assert quick.run("wf-echo", {"q": 1})["echo"] == {"q": 1}
    quick.close()
    assert sync_client.run("wf-echo", {"p": 2})["echo"] == {"p": 2}
    assert len(portal_threads()) == 1


def test_module_level_blocking_run(speedpix_env: LoopbackServer) -> None:
    output = speedpix.run("wf-echo", {"module": "level"})
    assert output["echo"] == {"module": "level"}
    client = speedpix.get_default_client()
    assert client is speedpix.get_default_client()
    with SpeedPix(
        speedpix_env.emulator.app_key,
        speedpix_env.emulator.app_secret,
        endpoint=speedpix_env.endpoint,
    ) as mine:
        speedpix.set_default_client(mine)
        try:
            assert speedpix.get_default_client() is mine
            assert speedpix.run("wf-echo", {"mine": 1})["echo"] == {"mine": 1}
        finally:
            speedpix.set_default_client(None)
    assert speedpix.run("wf-echo", {"c": 3}, client=client)["echo"] == {"c": 3}
    client.close()
    with pytest.raises(ConfigurationError, match="expects a SpeedPix"):
        speedpix.set_default_client("nope")  # type: ignore[arg-type]


def test_constructor_errors_are_immediate_and_start_no_thread() -> None:
    before = portal_threads()
    with pytest.raises(ConfigurationError, match="SPEEDPIX_APP_KEY"):
        SpeedPix()
    assert portal_threads() == before


def test_repr_names_the_blocking_classes(sync_client: SpeedPix) -> None:
    assert repr(sync_client).startswith("SpeedPix(endpoint=")
    handle = sync_client.predictions.create("wf-echo", {})
    assert repr(handle).startswith("<PredictionHandle id=")
    assert "demo-app-secret" not in repr(sync_client)


def test_unused_client_closes_without_starting_a_loop_thread(emulator: Emulator) -> None:
    before = portal_threads()
    client = SpeedPix(emulator.app_key, emulator.app_secret)
    client.close()
    assert portal_threads() == before
    assert client.closed


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="counts descriptors in /proc")
def test_close_while_other_threads_wait_cancels_them_with_a_typed_error(
    server: LoopbackServer,
) -> None:
    before = open_descriptors()
    client = SpeedPix(
        server.emulator.app_key,
        server.emulator.app_secret,
        endpoint=server.endpoint,
        retry_policy=FAST_RETRY,
        poll_policy=FAST_POLL,
    )
    errors: list[BaseException] = []
    started = threading.Barrier(9)

    def work(n: int) -> None:
        started.wait()
        try:
            # Half wait in run(), half iterate run_many (a generator driven by its own task).
            if n % 2:
                client.run("wf-sleep", {"seconds": 60}, polling_interval=0.05)
            else:
                for _ in client.run_many("wf-sleep", [{"seconds": 60}] * 3):
                    pass
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for thread in threads:
            thread.start()
        started.wait()
        time.sleep(0.5)
        closing = time.monotonic()
        client.close()
        for thread in threads:
            thread.join(10)
        took = time.monotonic() - closing
        gc.collect()
    assert not any(thread.is_alive() for thread in threads)
    assert len(errors) == 8
    assert all(type(error) is ClientClosedError for error in errors), errors
    assert "closed by another thread" in str(errors[0])
    assert took < 8, f"close and the callers' wake-up took {took:.1f}s"
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    # The server runs in this process too and closes its ends of the connections on its own
    # thread, a moment after the client closed them.
    settled = time.monotonic() + 2.0
    while open_descriptors() > before and time.monotonic() < settled:
        time.sleep(0.05)
    assert open_descriptors() <= before
    with pytest.raises(ClientClosedError, match="is closed"):
        client.run("wf-echo", {})
