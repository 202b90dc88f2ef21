"""The blocking API cannot fall behind the async one, and the generator's check catches drift."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest

import speedpix_async
import speedpix_async.sync as sync_api
from speedpix_async._sync import _generated as generated
from speedpix_async._sync import _values as values
from speedpix_async.portrait.images import PortraitImage, PortraitPicture
from speedpix_async.speedpix import defaults as _defaults

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "scripts" / "generate_sync.py"


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("generate_sync", GENERATOR)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # the dataclass-like NamedTuples look their module up
    spec.loader.exec_module(module)
    return module


_TABLES = _generator()
#: Every (async class, blocking twin) pair, from the generator's own tables.
PAIRS = [
    (getattr(importlib.import_module(spec.module), spec.name), getattr(generated, spec.twin))
    for spec in _TABLES.CLASSES
] + [
    (getattr(importlib.import_module(module), name), getattr(values, twin))
    for module, name, twin, _ in _TABLES.VALUES
]
NAMES = _TABLES.METHODS
TYPE_NAMES = {spec.name: spec.twin for spec in _TABLES.CLASSES if spec.name != spec.twin}


def _public(cls: type) -> dict[str, Any]:
    members = {}
    for name, value in vars(cls).items():
        if name.startswith("_") and name not in NAMES:
            continue
        if (
            isinstance(value, property)
            or inspect.iscoroutinefunction(value)
            or inspect.isasyncgenfunction(value)
            or inspect.isfunction(value)
        ):
            members[name] = value
    return members


def _mapped(annotation: Any) -> str:
    text = str(annotation)
    for old, new in TYPE_NAMES.items():
        text = re.sub(rf"\b{old}\b", new, text)
    return text


def _comparable(fn: Any) -> list[tuple[str, Any, str, str]]:
    signature = inspect.signature(fn)
    return [
        (p.name, p.kind, repr(p.default), _mapped(p.annotation))
        for p in signature.parameters.values()
    ]


@pytest.mark.parametrize(("async_cls", "sync_cls"), PAIRS, ids=[p[1].__name__ for p in PAIRS])
def test_every_async_member_has_a_twin_with_an_equal_signature(
    async_cls: type, sync_cls: type
) -> None:
    async_members = _public(async_cls)
    assert async_members or async_cls.__bases__, f"{async_cls.__name__} exposes nothing?"
    for name, member in async_members.items():
        twin_name = NAMES.get(name, name)
        twin = getattr(sync_cls, twin_name, None)
        assert twin is not None, f"{sync_cls.__name__} lacks {twin_name} (twin of {name})"
        if isinstance(member, property):
            assert isinstance(inspect.getattr_static(sync_cls, twin_name), property), name
            continue
        assert not inspect.iscoroutinefunction(twin), f"{sync_cls.__name__}.{twin_name} is async"
        assert _comparable(twin) == _comparable(member), f"{sync_cls.__name__}.{twin_name}"
        if inspect.getdoc(member):
            assert inspect.getdoc(twin), f"{sync_cls.__name__}.{twin_name} lost its docstring"


def test_the_client_constructor_and_resources_match() -> None:
    assert _comparable(sync_api.SpeedPix.__init__) == _comparable(
        speedpix_async.AsyncSpeedPix.__init__
    )
    client = sync_api.SpeedPix("k", "s", endpoint="http://127.0.0.1:9")
    assert isinstance(client.predictions, sync_api.Predictions)
    assert isinstance(client.files, sync_api.Files)
    client.close()


def test_the_portrait_constructor_resources_and_fields_match() -> None:
    assert _comparable(sync_api.Portrait.__init__) == _comparable(
        speedpix_async.AsyncPortrait.__init__
    )
    client = sync_api.Portrait("http://127.0.0.1:9", "app", "token")
    assert isinstance(client.jobs, sync_api.Jobs)
    assert isinstance(client.jobs.handle(5), sync_api.JobHandle)
    client.close()
    # A value twin shares its async class's data as they are: the same fields, one base.
    names = [field.name for field in attrs.fields(sync_api.PortraitImage)]
    assert names == [field.name for field in attrs.fields(PortraitImage)]
    assert issubclass(sync_api.PortraitImage, PortraitPicture)
    assert issubclass(PortraitImage, PortraitPicture)


def test_the_pairs_cover_every_public_class_of_the_blocking_api() -> None:
    twins = {twin for _, twin in PAIRS}
    public = {
        getattr(sync_api, name)
        for name in sync_api.__all__
        if isinstance(getattr(sync_api, name), type)
        and not issubclass(getattr(sync_api, name), Warning)
    }
    assert public - twins == {sync_api.BlockingIterator}


def test_module_level_run_matches() -> None:
    assert _comparable(sync_api.run) == _comparable(_defaults.run)
    assert _comparable(sync_api.run) == _comparable(speedpix_async.run)


def test_the_generated_file_is_up_to_date() -> None:
    done = subprocess.run(
        [sys.executable, str(GENERATOR), "--check"], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "up to date" in done.stdout


def _copy_project(target: Path) -> Path:
    for item in ("speedpix_async", "scripts", "pyproject.toml"):
        source = ROOT / item
        if source.is_dir():
            shutil.copytree(source, target / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target / item)
    return target


def test_check_fails_when_an_async_method_is_added_without_regenerating(tmp_path: Path) -> None:
    project = _copy_project(tmp_path)
    files_py = project / "speedpix_async" / "speedpix" / "files.py"
    files_py.write_text(
        files_py.read_text()
        + '''

async def _unrelated() -> None:
    """A module-level helper: not part of any wrapped class."""
'''
    )
    unchanged = subprocess.run(
        [sys.executable, str(GENERATOR), "--check", "--root", str(project)],
        capture_output=True,
        text=True,
    )
    assert unchanged.returncode == 0, unchanged.stdout + unchanged.stderr
    source = files_py.read_text()
    source = source.replace(
        "    def from_url(self, url: str) -> FileOutput:",
        '''    async def delete(self, object_key: str) -> None:
        """A new async method nobody generated a twin for."""

    def from_url(self, url: str) -> FileOutput:''',
    )
    files_py.write_text(source)
    stale = subprocess.run(
        [sys.executable, str(GENERATOR), "--check", "--root", str(project)],
        capture_output=True,
        text=True,
    )
    assert stale.returncode == 1
    assert "+    def delete(self, object_key: str) -> None:" in stale.stdout
    assert "run `python scripts/generate_sync.py`" in stale.stderr
    regenerate = subprocess.run(
        [sys.executable, str(GENERATOR), "--root", str(project)], capture_output=True, text=True
    )
    assert regenerate.returncode == 0, regenerate.stderr
    again = subprocess.run(
        [sys.executable, str(GENERATOR), "--check", "--root", str(project)],
        capture_output=True,
        text=True,
    )
    assert again.returncode == 0


@pytest.mark.parametrize(
    ("member", "complaint"),
    [
        (
            "    @staticmethod\n    def helper() -> None:\n        pass\n",
            "AsyncPredictionHandle.helper: unsupported decorators ['staticmethod']",
        ),
        (
            "    async def many(self) -> list[AsyncPredictionHandle]:\n        return []\n",
            "AsyncPredictionHandle.many: cannot convert a list[AsyncPredictionHandle]",
        ),
        ("    async def untyped(self):\n        pass\n", "untyped: needs a return annotation"),
        ("    LIMIT = 3\n", "unsupported class member Assign"),
    ],
    ids=["decorator", "nested-twin", "no-annotation", "class-constant"],
)
def test_the_generator_refuses_what_it_does_not_understand(
    tmp_path: Path, member: str, complaint: str
) -> None:
    project = _copy_project(tmp_path)
    handle_py = project / "speedpix_async" / "speedpix" / "predictions.py"
    handle_py.write_text(
        handle_py.read_text().replace(
            "    async def reload(self) -> Prediction:",
            member + "\n    async def reload(self) -> Prediction:",
        )
    )
    done = subprocess.run(
        [sys.executable, str(GENERATOR), "--check", "--root", str(project)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert complaint in done.stderr


def test_stray_generated_files_fail_the_check(tmp_path: Path) -> None:
    project = _copy_project(tmp_path)
    stray = project / "speedpix_async" / "_sync" / "_old_generated.py"
    stray.write_text("# GENERATED by scripts/generate_sync.py — left over\n")
    done = subprocess.run(
        [sys.executable, str(GENERATOR), "--check", "--root", str(project)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert "stray generated file" in done.stdout
