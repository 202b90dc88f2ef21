"""The web app example (examples/webapp) end to end: started as users start it, with its embedded
emulator, on a loopback port; driven by headless Chromium (Debian's chromium and
chromium-driver through selenium) for the pages, and by plain HTTP for the answers around them.

The browser tests are skipped, with the reason, where no Chromium is installed; `.ci/run`
installs it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from speedpix_async import AsyncSpeedPix
from speedpix_async.emulator import make_sample_photo

pytestmark = pytest.mark.loopback

APP = Path(__file__).parent.parent / "examples" / "webapp" / "app.py"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
needs_browser = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="headless Chromium is not installed (apt-get install chromium chromium-driver)",
)
#: Whether the result image has arrived and decoded.
IMAGE_SHOWN = (
    "const i = document.getElementById('result');"
    "return !i.hidden && i.complete && i.naturalWidth > 0 ? i.naturalWidth : 0;"
)


class WebApp:
    """``python examples/webapp/app.py --port 0`` in its own process; its log kept."""

    def __init__(self, time_scale: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(APP), "--port", "0", "--time-scale", str(time_scale)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline().strip()
        assert first.startswith("open http://"), first + self.process.stderr.read()  # type: ignore[union-attr]
        self.url = first.removeprefix("open ")
        self.log: list[str] = []
        self._logger = threading.Thread(target=self._keep_log, daemon=True)
        self._logger.start()
        samples = httpx.get(f"{self.url}/api/portrait/samples").json()
        self.emulator = samples["template"].split("/_emulator/")[0]

    def _keep_log(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line.rstrip())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self._logger.join(timeout=10)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


@pytest.fixture(scope="module")
def app() -> Iterator[WebApp]:
    """Tasks at the emulator's real speed: a white-background run takes 3 s, with progress."""
    running = WebApp(time_scale=1.0)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def quick_app() -> Iterator[WebApp]:
    """Training in seconds instead of minutes."""
    running = WebApp(time_scale=0.05)
    yield running
    running.stop()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1000,1100")
    assert CHROMIUM is not None
    assert CHROMEDRIVER is not None
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def statuses_until_shown(browser: Any, seconds: float) -> tuple[list[str], int]:
    """The status line's successive texts until the result image shows; its width."""
    from selenium.webdriver.common.by import By

    seen: list[str] = []
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        text = browser.find_element(By.ID, "status").text
        if not seen or seen[-1] != text:
            seen.append(text)
        width = browser.execute_script(IMAGE_SHOWN)
        if width:
            # The page may have shown the image (and said so) since the text above was read.
            text = browser.find_element(By.ID, "status").text
            if seen[-1] != text:
                seen.append(text)
            return seen, int(width)
        if browser.find_element(By.ID, "error").text:
            break
        time.sleep(0.05)
    raise AssertionError(f"no result: {seen}, error {browser.find_element(By.ID, 'error').text!r}")


@needs_browser
def test_a_photo_goes_in_and_its_white_background_version_comes_out(
    app: WebApp, browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    photo = make_sample_photo(tmp_path / "product.jpg")
    browser.get(app.url)
    browser.find_element(By.ID, "photo").send_keys(str(photo))
    browser.find_element(By.ID, "go").click()
    seen, width = statuses_until_shown(browser, 60)
    assert width == 1024
    running = [text for text in seen if text.startswith("running")]
    assert len(running) >= 2, seen  # the progress moved on the way, not only at the end
    assert seen[-1] == "done: 1024×1024"
    assert browser.find_element(By.ID, "error").text == ""
    shot = tmp_path / "white-background.png"
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000


@needs_browser
def test_a_portrait_is_checked_trained_and_created_in_the_page(
    quick_app: WebApp, browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{quick_app.url}/portrait")
    deadline = time.monotonic() + 10
    while not browser.find_element(By.ID, "photos").get_attribute("value"):
        assert time.monotonic() < deadline, "the sample photos never arrived"
        time.sleep(0.05)
    browser.find_element(By.ID, "check").click()
    deadline = time.monotonic() + 30
    while len(browser.find_elements(By.CSS_SELECTOR, "#checks li")) < 3:
        assert time.monotonic() < deadline, "no check results"
        time.sleep(0.05)
    checks = [item.text for item in browser.find_elements(By.CSS_SELECTOR, "#checks li")]
    assert all(text.startswith("✓") for text in checks), checks
    browser.find_element(By.ID, "train").click()
    seen, width = statuses_until_shown(browser, 120)
    assert width > 0
    training = [text for text in seen if text.startswith("training")]
    assert len(training) >= 2, seen
    assert seen[-1] == "portrait created"
    shot = tmp_path / "portrait.png"
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000


@needs_browser
def test_an_error_reaches_the_page_as_a_readable_message(app: WebApp, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.get(app.url)
    # What the form's own check (required) prevents a person from sending: no photo at all.
    browser.execute_script("call('/api/white-background', {method: 'POST'})")
    deadline = time.monotonic() + 10
    while not (message := browser.find_element(By.ID, "error").text):
        assert time.monotonic() < deadline, "no error shown"
        time.sleep(0.05)
    assert message == "no photo was sent; choose a picture first"
    assert "Traceback" not in browser.page_source


def test_errors_are_json_answers_with_fitting_statuses(quick_app: WebApp) -> None:
    with httpx.Client(base_url=quick_app.url, timeout=30) as http:
        empty = http.post("/api/white-background", content=b"")
        assert empty.status_code == 400
        assert empty.json() == {
            "error": "no photo was sent; choose a picture first",
            "type": "InputError",
        }
        unknown = http.post(
            "/api/portrait/create",
            json={"model_id": "no-such-model", "template": f"{quick_app.emulator}/x.png"},
        )
        assert unknown.status_code == 400
        assert unknown.json()["type"] == "PortraitInputError"
        assert "model_id" in unknown.json()["error"]
        with http.stream("GET", "/api/white-background/123/events") as events:
            text = "".join(events.iter_text())
    assert "event: failed" in text
    assert '"type": "NotFoundError"' in text
    assert "Traceback" not in text


def test_a_browser_that_leaves_stops_the_server_side_wait(app: WebApp) -> None:
    async def long_task() -> str:
        client = AsyncSpeedPix("demo-app-key", "demo-app-secret", endpoint=app.emulator)
        async with client:
            handle = await client.predictions.create("wf-sleep", {"seconds": 120})
            return handle.id

    def progress_polls() -> int:
        served = httpx.get(f"{app.emulator}/_emulator/stats").json()
        polls: int = served["requests"]["by_route"].get("/scc/comfy_get_progress", 0)
        return polls

    task_id = anyio.run(long_task)
    url = f"{app.url}/api/white-background/{task_id}/events"

    def first_line() -> str:
        with httpx.stream("GET", url, timeout=30) as events:
            return next(events.iter_lines())  # then the stream closes: the browser went away

    assert first_line() == "event: progress"
    deadline = time.monotonic() + 10
    left = f"the browser left: stopped waiting for task {task_id}"
    while not any(left in line for line in app.log):
        assert time.monotonic() < deadline, app.log
        time.sleep(0.05)
    assert any(f"/api/white-background/{task_id}/events" in line for line in app.log)
    before = progress_polls()
    time.sleep(2.5)  # several watch intervals
    assert progress_polls() == before  # nobody polls for the page that left
    assert first_line() == "event: progress"  # and the task can be followed again


def test_many_pages_at_once_share_the_apps_clients(quick_app: WebApp, tmp_path: Path) -> None:
    """Eight pages run at once through the one client the lifespan holds: the emulator sees
    connections from its pools (one for API calls, one for file transfers — here the same
    host) of that size at most, not one client (and pool) per request."""
    photo = make_sample_photo(tmp_path / "p.jpg").read_bytes()
    before = httpx.get(f"{quick_app.emulator}/_emulator/stats").json()

    async def one_page(http: httpx.AsyncClient) -> str:
        started = await http.post(
            "/api/white-background?text=hi", content=photo, headers={"content-type": "image/jpeg"}
        )
        task_id = started.json()["task_id"]
        async with http.stream("GET", f"/api/white-background/{task_id}/events") as events:
            return "".join([chunk async for chunk in events.aiter_text()])

    async def pages() -> list[str]:
        async with httpx.AsyncClient(base_url=quick_app.url, timeout=60) as http:
            results: list[str] = []
            async with anyio.create_task_group() as group:
                for _ in range(8):

                    async def page() -> None:
                        results.append(await one_page(http))

                    group.start_soon(page)
            return results

    streams = anyio.run(pages)
    assert len(streams) == 8
    assert all("event: done" in text for text in streams)
    after = httpx.get(f"{quick_app.emulator}/_emulator/stats").json()
    requests = after["requests"]["total"] - before["requests"]["total"]
    connections = after["client_connections"] - before["client_connections"]
    assert requests >= 8 * 4  # sign, PUT, submit and at least one poll each
    # The app's two pools (and these stats requests), not a client each.
    assert connections <= 2 * 8 + 2


def test_the_app_logs_no_secret(app: WebApp) -> None:
    text = json.dumps(app.log)
    assert "demo-app-secret" not in text
    assert "Signature=" not in text
