"""How command-line text becomes inputs: ``-i key=value``, ``@file``, JSON lines, ``--shard``."""

from __future__ import annotations

from pathlib import Path

import pytest

from speedpix_async import InputError
from speedpix_async.cli._batch import parse_shard
from speedpix_async.cli._values import parse_assignments, read_json_lines


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
    (tmp_path / "a.png").write_bytes(b"x")
    path = tmp_path / "in.jsonl"
    path.write_text('{"image": "@a.png", "n": 1}\n\n{"list": ["@@x", {"deep": "@a.png"}]}\n')
    assert read_json_lines(path) == [
        {"image": tmp_path / "a.png", "n": 1},
        {"list": ["@x", {"deep": tmp_path / "a.png"}]},
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"a": 1}\n{"a": \n', "in.jsonl:2: not JSON"),
        (b'{"a": 1}\n[1, 2]\n', "in.jsonl:2: expected an input object"),
        (b'{"a": "\xff"}\n', "in.jsonl:1: not UTF-8"),
    ],
)
def test_a_bad_line_is_named_before_anything_runs(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        read_json_lines(path)
    with pytest.raises(InputError, match="does not exist"):
        read_json_lines(tmp_path / "nope.jsonl")


def test_shards_are_i_of_n() -> None:
    assert parse_shard(None) is None
    assert parse_shard("2/4") == (2, 4)
    for bad in ["0/4", "5/4", "2", "a/b", "1/0"]:
        with pytest.raises(InputError):
            parse_shard(bad)
