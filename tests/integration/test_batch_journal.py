"""``run_many(..., journal=path)``: a re-run resumes instead of re-submitting; ``shard=``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from speedpix_async import (
    AsyncSpeedPix,
    BadRequestError,
    BatchResult,
    FileOutput,
    InputError,
    JournalDamagedError,
    PredictionFailedError,
    PredictionTimeoutError,
    RetryPolicy,
    SubmitOutcomeUnknownError,
)
from speedpix_async._core.journal import open_journal
from speedpix_async.emulator import Emulator
from speedpix_async.speedpix.journal import FORMAT, fingerprint


async def _collect(
    client: AsyncSpeedPix, workflow: str, inputs: list[Any], **kw: Any
) -> dict[int, BatchResult]:
    results = [r async for r in client.run_many(workflow, inputs, concurrency=4, **kw)]
    by_index = {r.index: r for r in results}
    assert len(by_index) == len(results), "each input yields one result"
    return by_index


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_a_rerun_replays_finished_results_without_a_request(
    client: AsyncSpeedPix, emulator: Emulator, tmp_path: Path
) -> None:
    journal = tmp_path / "batch.journal"
    inputs = [{"value": n} for n in range(6)] + [{"message": "boom"}]
    first = await _collect(client, "wf-echo", inputs[:6], journal=journal)
    assert all(r.ok for r in first.values())
    created = emulator.stats.tasks_created
    assert created == 6

    requests_before = sum(emulator.stats.requests.values())
    again = await _collect(client, "wf-echo", inputs[:6], journal=journal)
    assert sum(emulator.stats.requests.values()) == requests_before, "replayed from the journal"
    assert emulator.stats.tasks_created == created
    for index, result in again.items():
        assert result.ok
        assert result.output == first[index].output
        assert result.prediction is not None
        assert result.prediction.id == first[index].prediction.id  # type: ignore[union-attr]
        assert result.prediction.succeeded

    records = _records(journal)
    assert records[0]["workflow_id"] == "wf-echo"
    kinds = [next(k for k in ("submit", "task", "end") if k in r) for r in records[1:]]
    assert kinds.count("submit") == kinds.count("task") == kinds.count("end") == 6


async def test_replayed_file_outputs_are_bound_and_downloadable(
    client: AsyncSpeedPix, tmp_path: Path
) -> None:
    journal = tmp_path / "files.journal"
    inputs = [{"prompt": "a red fox", "width": 64, "height": 64, "steps": 1}]
    first = await _collect(client, "wf-text-to-image", inputs, journal=journal)
    again = await _collect(client, "wf-text-to-image", inputs, journal=journal)
    image, original = again[0].output["images"][0], first[0].output["images"][0]
    assert isinstance(image, FileOutput)
    assert type(image) is type(original)
    assert image == original
    assert image.metadata == original.metadata
    saved = await image.save(tmp_path / "fox.png")
    assert saved.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_failed_tasks_are_final_and_replayed_as_failures(
    client: AsyncSpeedPix, emulator: Emulator, tmp_path: Path
) -> None:
    journal = tmp_path / "fail.journal"
    first = await _collect(client, "wf-fail", [{"message": "boom"}], journal=journal)
    again = await _collect(client, "wf-fail", [{"message": "boom"}], journal=journal)
    assert emulator.stats.tasks_created == 1
    for result in (first[0], again[0]):
        assert isinstance(result.error, PredictionFailedError)
        assert result.prediction is not None
        assert result.prediction.error == "boom"
    assert str(again[0].error) == str(first[0].error)


async def test_a_refused_submit_is_not_unknown_and_runs_again(
    client: AsyncSpeedPix, emulator: Emulator, tmp_path: Path
) -> None:
    journal = tmp_path / "refused.journal"
    inputs = [{"seconds": "three"}, {"seconds": 0.1}]
    for _ in range(2):
        results = await _collect(client, "wf-sleep", inputs, journal=journal)
        assert isinstance(results[0].error, BadRequestError), "refused again, not 'unknown'"
        assert results[1].ok
    assert emulator.stats.tasks_created == 1
    assert emulator.stats.requests["/scc/comfy_prompt"] == 3


async def test_known_task_ids_are_resumed_and_unknown_submits_are_not_repeated(
    client: AsyncSpeedPix, emulator: Emulator, tmp_path: Path
) -> None:
    # The state a crash leaves: input 0 submitted (task id known), input 1's submit on the wire.
    running = await client.run("wf-sleep", {"seconds": 0.2}, wait=False)
    journal = tmp_path / "crashed.journal"
    inputs = [{"seconds": 0.2}, {"seconds": 0.1}, {"seconds": 0.3}]
    header = {
        "journal": FORMAT,
        "workflow_id": "wf-sleep",
        "alias_id": "main",
        "version_id": None,
        "shard": None,
    }
    crashed = [
        header,
        {"i": 0, "submit": fingerprint(inputs[0])},
        {"i": 0, "task": running.id},
        {"i": 1, "submit": fingerprint(inputs[1])},
    ]
    journal.write_text("".join(json.dumps(r) + "\n" for r in crashed) + '{"i": 2, "sub')
    assert emulator.stats.tasks_created == 1

    results = await _collect(client, "wf-sleep", inputs, journal=journal)
    assert results[0].ok
    assert results[0].prediction is not None
    assert results[0].prediction.id == running.id, "resumed by id, not re-submitted"
    assert isinstance(results[1].error, SubmitOutcomeUnknownError)
    assert "resubmit_unknown=True" in str(results[1].error)
    assert results[2].ok, "the torn record of input 2 was dropped; it ran"
    assert emulator.stats.tasks_created == 2

    resubmitted = await _collect(client, "wf-sleep", inputs, journal=journal, resubmit_unknown=True)
    assert all(r.ok for r in resubmitted.values())
    assert emulator.stats.tasks_created == 3


async def test_a_journal_refuses_another_batch_and_changed_inputs(
    client: AsyncSpeedPix, emulator: Emulator, tmp_path: Path
) -> None:
    journal = tmp_path / "one.journal"
    await _collect(client, "wf-echo", [{"value": 1}, {"value": 2}], journal=journal)
    with pytest.raises(InputError, match="belongs to another batch"):
        await _collect(client, "wf-sleep", [{"seconds": 0}], journal=journal)
    changed = await _collect(client, "wf-echo", [{"value": 1}, {"value": 3}], journal=journal)
    assert changed[0].ok
    assert isinstance(changed[1].error, InputError)
    assert "differs from the input the journal" in str(changed[1].error)
    assert emulator.stats.tasks_created == 2


HEADER = {"journal": FORMAT, "workflow_id": "wf-echo"}


async def test_one_process_per_journal(tmp_path: Path) -> None:
    path = tmp_path / "locked.journal"
    held = open_journal(path, HEADER)
    try:
        with pytest.raises(InputError, match="in use by another process"):
            open_journal(path, HEADER)
    finally:
        held.journal.close()
    again = open_journal(path, HEADER)
    again.journal.close()
    assert again.header is None
    assert again.records == []


async def test_a_line_that_is_not_a_record_is_refused_as_damage(tmp_path: Path) -> None:
    path = tmp_path / "edited.journal"
    text = json.dumps(HEADER) + '\nnot json\n{"i": 1}\n'
    path.write_text(text)
    with pytest.raises(JournalDamagedError, match=r"damaged at line 2") as caught:
        open_journal(path, HEADER)
    assert caught.value.line == 2
    assert path.read_text() == text, "nothing was cut"


@pytest.mark.parametrize(
    "content",
    [
        b'{"note": "first"}\n{"note": "last, no newline"}',  # a JSON-lines file of someone's
        b"plain text without a newline",
        b'{"journal": "another.kind/1"}\n{"i": 0',
    ],
)
async def test_a_file_that_is_not_this_kind_of_journal_is_refused_untouched(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "notes.jsonl"
    path.write_bytes(content)
    with pytest.raises(InputError, match="not a journal of this kind") as caught:
        open_journal(path, HEADER)
    assert not isinstance(caught.value, JournalDamagedError)
    assert path.read_bytes() == content, "not a byte changed"


async def test_a_torn_tail_is_cut_only_when_this_batch_appends(tmp_path: Path) -> None:
    path = tmp_path / "torn.journal"
    complete = json.dumps(HEADER, separators=(",", ":")) + '\n{"i":0,"submit":"ab"}\n'
    path.write_text(complete + '{"i":0,"ta')
    opened = open_journal(path, HEADER)
    assert opened.header == HEADER
    assert opened.records == [(2, {"i": 0, "submit": "ab"})]
    assert path.read_text().endswith('{"i":0,"ta'), "reading cut nothing"
    await opened.journal.append({"i": 0, "task": "t-1"})
    opened.journal.close()
    assert path.read_text() == complete + '{"i":0,"task":"t-1"}\n'


async def test_another_batchs_journal_with_a_torn_tail_is_refused_untouched(
    client: AsyncSpeedPix, emulator: Emulator, tmp_path: Path
) -> None:
    journal = tmp_path / "other.journal"
    await _collect(client, "wf-echo", [{"value": 1}], journal=journal)
    content = journal.read_bytes() + b'{"i":1,"sub'
    journal.write_bytes(content)
    with pytest.raises(InputError, match="belongs to another batch"):
        await _collect(client, "wf-sleep", [{"seconds": 0}], journal=journal)
    assert journal.read_bytes() == content
    assert emulator.stats.tasks_created == 1


@pytest.mark.parametrize(
    "damage",
    [
        lambda end: end.pop("status"),
        lambda end: end.update(id=7),
        lambda end: end.update(created_at="yesterday"),
        lambda end: end.update(estimated_duration="soon"),
    ],
)
async def test_a_damaged_end_record_is_a_typed_error_naming_its_line(
    client: AsyncSpeedPix, emulator: Emulator, tmp_path: Path, damage: Any
) -> None:
    journal = tmp_path / "damaged.journal"
    inputs = [{"value": n} for n in range(3)]
    await _collect(client, "wf-echo", inputs, journal=journal)
    records = _records(journal)
    number = next(n for n, r in enumerate(records, 1) if "end" in r and r["i"] == 1)
    damage(records[number - 1]["end"])
    journal.write_text("".join(json.dumps(r) + "\n" for r in records))
    requests = sum(emulator.stats.requests.values())
    with pytest.raises(JournalDamagedError, match=f"damaged at line {number}") as caught:
        await _collect(client, "wf-echo", inputs, journal=journal)
    assert caught.value.line == number
    assert "Nothing was sent" in str(caught.value)
    assert sum(emulator.stats.requests.values()) == requests, "nothing was sent"


async def test_shards_split_the_inputs_without_overlap(
    client: AsyncSpeedPix, emulator: Emulator
) -> None:
    inputs = [{"value": n} for n in range(10)]
    seen: list[int] = []
    for shard in (1, 2, 3):
        results = await _collect(client, "wf-echo", inputs, shard=(shard, 3))
        assert all(index % 3 == shard - 1 for index in results)
        assert all(r.input == inputs[r.index] for r in results.values())
        seen += results
    assert sorted(seen) == list(range(10))
    assert emulator.stats.tasks_created == 10
    for bad in [(0, 3), (4, 3), (1,), "1/3"]:
        with pytest.raises(InputError, match="shard must be"):
            client.run_many("wf-echo", inputs, shard=bad)  # type: ignore[arg-type]


async def test_a_submit_refused_until_the_deadline_is_run_again_on_the_next_run(
    emulator: Emulator, tmp_path: Path
) -> None:
    journal = tmp_path / "refused.journal"
    emulator.faults.script("throttle", route="/scc/comfy_prompt", times=1000)
    patient = RetryPolicy(max_retries=100, initial_delay=0.1, max_delay=0.1, jitter=0.0)
    async with emulator.client(retry_policy=patient) as client:
        first = await _collect(client, "wf-echo", [{"value": 1}], journal=journal, timeout=0.5)
    error = first[0].error
    assert isinstance(error, PredictionTimeoutError)
    assert not isinstance(error, SubmitOutcomeUnknownError)
    assert emulator.stats.tasks_created == 0
    emulator.faults.clear()
    async with emulator.client(retry_policy=patient) as client:
        second = await _collect(client, "wf-echo", [{"value": 1}], journal=journal)
    assert second[0].ok, "a definite refusal is recorded so; the re-run submits it"
    assert emulator.stats.tasks_created == 1
