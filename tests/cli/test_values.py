"""How command-line text becomes inputs: ``-i key=value``, ``@file``, JSON lines, ``--shard``."""

from __future__ import annotations

from pathlib import Path

import pytest

from speedpix_async import InputError
from speedpix_async.cli._batch import parse_shard
from speedpix_async.cli._values import FileReferences, parse_assignments, read_json_lines

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf00000301010018dd8db00000000049454e44ae426082"
)


def test_assignments_are_json_text_files_or_escaped(tmp_path: Path) -> None:
    (tmp_path / "in.jpg").write_bytes(b"x")
    inputs = parse_assignments(
        ["steps=20", "text=white background", "image=@in.jpg", "tag=@@home", "flags=[1, 2]"],
        tmp_path,
    )
    assert inputs == {
        "steps": 20,
        "text": "white background",
        "image": tmp_path / "in.jpg",
        "tag": "@home",
        "flags": [1, 2],
    }
    with pytest.raises(InputError, match="given twice"):
        parse_assignments(["a=1", "a=2"], tmp_path)
    with pytest.raises(InputError, match="write key=value"):
        parse_assignments(["=1"], tmp_path)
    with pytest.raises(InputError, match="is not a file"):
        parse_assignments(["image=@missing.jpg"], tmp_path)


def test_json_lines_resolve_files_beside_the_inputs_file(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(PNG)
    path = tmp_path / "in.jsonl"
    path.write_text('{"image": "@a.png", "n": 1}\n\n{"list": ["@@x", {"deep": "@a.png"}]}\n')
    assert read_json_lines(path) == [
        {"image": tmp_path / "a.png", "n": 1},
        {"list": ["@x", {"deep": tmp_path / "a.png"}]},
    ]


def test_a_line_that_cannot_be_used_is_that_lines_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("secret notes")
    (tmp_path / "pic.png").write_bytes(PNG)
    outside = tmp_path.parent / f"{tmp_path.name}-outside.png"
    outside.write_bytes(PNG)
    (tmp_path / "link.png").symlink_to(outside)
    deep = "[" * 100_000 + "]" * 100_000
    lines = [
        '{"prompt": "@/etc/passwd"}',
        '{"prompt": "@alice says hi"}',
        '{"image": "@notes.txt"}',
        '{"image": "@link.png"}',
        f'{{"deep": {deep}}}',
        '{"a": ',
        "[1, 2]",
        '{"image": "@pic.png", "ok": true}',
    ]
    path = tmp_path / "in.jsonl"
    path.write_bytes("\n".join(lines).encode() + b"\n" + b'{"a": "\xff"}\n')
    items = read_json_lines(path)
    assert items[7] == {"image": tmp_path / "pic.png", "ok": True}
    expected = [
        "in.jsonl:1: '@/etc/passwd' points outside",
        "in.jsonl:2: '@alice says hi' names a file to upload",
        "in.jsonl:3: '@notes.txt' is not an image, video or audio file",
        "in.jsonl:4: '@link.png' points outside",
        "in.jsonl:5: the input is nested more than",
        "in.jsonl:6: not JSON",
        "in.jsonl:7: expected an input object",
        None,
        "in.jsonl:9: not UTF-8",
    ]
    for item, message in zip(items, expected, strict=True):
        if message is None:
            continue
        assert isinstance(item, InputError), item
        assert message in str(item)
    with pytest.raises(InputError, match="does not exist"):
        read_json_lines(tmp_path / "nope.jsonl")


def test_files_root_and_no_uploads(tmp_path: Path) -> None:
    inner = tmp_path / "inputs"
    inner.mkdir()
    (tmp_path / "shared.png").write_bytes(PNG)
    path = inner / "in.jsonl"
    path.write_text('{"image": "@../shared.png", "tag": "@@x"}\n')
    [refused] = read_json_lines(path)
    assert isinstance(refused, InputError)
    wider = FileReferences(base=inner, root=tmp_path)
    assert read_json_lines(path, wider) == [{"image": inner / "../shared.png", "tag": "@x"}]
    text = FileReferences(base=inner, root=None)
    assert read_json_lines(path, text) == [{"image": "@../shared.png", "tag": "@@x"}]


def test_shards_are_i_of_n() -> None:
    assert parse_shard(None) is None
    assert parse_shard("2/4") == (2, 4)
    for bad in ["0/4", "5/4", "2", "a/b", "1/0"]:
        with pytest.raises(InputError):
            parse_shard(bad)
