"""A batch's input lines are data, not commands (issue "Nothing the user wrote is ever
overwritten", group 2): ``@`` references stay inside the inputs folder and must be media, and
a line that cannot be used is that line's error while the others run. The real ``speedpix``
command runs in a subprocess against a loopback emulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from speedpix_async.emulator import Emulator, LoopbackServer
from tests.cli.test_user_files import PNG, speedpix

pytestmark = pytest.mark.loopback


@pytest.fixture
def speedpix_emulator() -> Emulator:
    return Emulator(time_scale=0.05)


def _results(path: Path) -> dict[int, dict[str, Any]]:
    return {r["index"]: r for r in map(json.loads, path.read_text().splitlines())}


def test_hostile_lines_fail_alone_and_upload_nothing(
    speedpix_server: LoopbackServer, tmp_path: Path
) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "pic.png").write_bytes(PNG)
    (folder / "notes.txt").write_text("not a picture")
    lines = [
        {"prompt": "@/etc/passwd"},
        {"prompt": "@alice says hi"},
        {"image": "@notes.txt"},
        {"image": "@pic.png", "text": "fine"},
        {"text": "@@at sign kept"},
    ]
    inputs = folder / "in.jsonl"
    body = "".join(json.dumps(line) + "\n" for line in lines)
    inputs.write_text(body + '{"deep": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    out = folder / "results.jsonl"

    done = speedpix(speedpix_server, "batch", "wf-echo", str(inputs), "--out", str(out))
    assert done.returncode == 1, done.stderr  # some lines failed
    assert "Traceback" not in done.stderr
    results = _results(out)
    assert sorted(results) == list(range(6))
    for index, message in [
        (0, "points outside"),
        (1, "names a file to upload"),
        (2, "is not an image, video or audio file"),
        (5, "nested more than"),
    ]:
        assert results[index]["status"] == "not submitted"
        assert message in results[index]["error"]["message"], results[index]
        assert results[index]["error"]["type"] == "InputError"
    assert results[3]["status"] == "succeeded"
    assert results[3]["output"]["echo"]["text"] == "fine"
    assert results[4]["output"]["echo"]["text"] == "@at sign kept"
    stats = speedpix_server.emulator.stats.snapshot()
    assert stats["tasks_created"]["total"] == 2
    assert stats["bytes_uploaded"] == len(PNG), "only the picture inside the folder was uploaded"


def test_no_uploads_sends_at_values_as_text(
    speedpix_server: LoopbackServer, tmp_path: Path
) -> None:
    inputs = tmp_path / "in.jsonl"
    inputs.write_text(json.dumps({"prompt": "@alice says hi", "tag": "@@x"}) + "\n")
    out = tmp_path / "r.jsonl"
    args = ("batch", "wf-echo", str(inputs), "--out", str(out), "--no-uploads")
    done = speedpix(speedpix_server, *args)
    assert done.returncode == 0, done.stderr
    assert _results(out)[0]["output"]["echo"] == {"prompt": "@alice says hi", "tag": "@@x"}


def test_files_root_widens_where_references_may_point(
    speedpix_server: LoopbackServer, tmp_path: Path
) -> None:
    (tmp_path / "shared.png").write_bytes(PNG)
    lines = tmp_path / "lines"
    lines.mkdir()
    inputs = lines / "in.jsonl"
    inputs.write_text(json.dumps({"image": "@../shared.png", "text": "x"}) + "\n")
    out = lines / "r.jsonl"
    refused = speedpix(speedpix_server, "batch", "wf-echo", str(inputs), "--out", str(out))
    assert "points outside" in _results(out)[0]["error"]["message"]
    assert refused.returncode == 1
    out.unlink()
    (lines / "r.jsonl.journal").unlink()
    args = ("--out", str(out), "--files-root", str(tmp_path))
    allowed = speedpix(speedpix_server, "batch", "wf-echo", str(inputs), *args)
    assert allowed.returncode == 0, allowed.stderr
    assert _results(out)[0]["status"] == "succeeded"
