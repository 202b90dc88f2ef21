"""The pytest plugin's documented examples work under both async test runners people use:
pytest-asyncio (strict mode, the default, needs a marker) and anyio's own plugin."""

from __future__ import annotations

import pytest

from tests.conftest import ANYIO_BACKENDS

pytest_plugins = ["pytester"]

INNER = """
import pytest

{marker}
async def test_my_pipeline(speedpix_emulator):
    def upper(inputs, ctx):
        return {{"text": inputs["t"].upper()}}

    speedpix_emulator.register_workflow("upper", upper)
    async with speedpix_emulator.client() as client:
        assert await client.run("upper", {{"t": "hi"}}) == {{"text": "HI"}}


{marker}
async def test_from_the_environment(speedpix_env, portrait_env):
    from speedpix_async import AsyncPortrait, AsyncSpeedPix

    async with AsyncSpeedPix() as client:
        output = await client.run("wf-echo", {{"n": 1}})
    assert output["echo"] == {{"n": 1}}
    async with AsyncPortrait() as portrait:
        checked = await portrait.check_images([portrait_env.sample_url("portrait-0-0.png")])
    assert len(checked) == 1
"""


@pytest.mark.parametrize(
    ("marker", "args", "runs"),
    [
        ("@pytest.mark.asyncio", ["-p", "no:anyio", "-o", "asyncio_mode=strict"], 1),
        ("@pytest.mark.anyio", ["-p", "no:asyncio"], ANYIO_BACKENDS),
    ],
    ids=["pytest-asyncio", "anyio"],
)
def test_the_documented_example_runs_under(
    pytester: pytest.Pytester, marker: str, args: list[str], runs: int
) -> None:
    pytester.makepyfile(test_inner=INNER.format(marker=marker))
    result = pytester.runpytest_subprocess(*args, "-q")
    result.assert_outcomes(passed=2 * runs)


SCALED = """
import pytest


async def train_and_create(emulator):
    # A 60 s training at scale 1: the 20 s bound below only holds if the scale reached it.
    photos = [emulator.sample_url(f"portrait-0-{{n}}.jpg") for n in range(4)]
    async with emulator.portrait_client() as portrait:
        job = await (await portrait.train(photos)).wait(timeout=20)
        image = await portrait.create(
            emulator.sample_url("template-1.jpg"), model_id=job.model_id, timeout=20
        )
    return job, image


@pytest.mark.speedpix_time_scale(0.001)
@pytest.mark.anyio
async def test_marked(speedpix_emulator):
    assert speedpix_emulator.time_scale == 0.001
    job, image = await train_and_create(speedpix_emulator)
    assert job.model_id and image.size[0] > 0


@pytest.mark.anyio
async def test_from_the_option_or_default(speedpix_emulator):
    assert speedpix_emulator.time_scale == {expected}


@pytest.mark.anyio
async def test_the_fixture_can_change_it(speedpix_emulator):
    speedpix_emulator.time_scale = 0.001
    job, _ = await train_and_create(speedpix_emulator)
    assert job.model_id
"""


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ([], 1.0),
        (["--speedpix-time-scale", "0.5"], 0.5),
        (["-o", "speedpix_time_scale=0.25"], 0.25),
    ],
    ids=["default", "option", "ini"],
)
def test_one_time_knob_drives_both_services(
    pytester: pytest.Pytester, option: list[str], expected: float
) -> None:
    pytester.makepyfile(test_inner=SCALED.format(expected=expected))
    result = pytester.runpytest_subprocess("-p", "no:asyncio", "-q", *option)
    result.assert_outcomes(passed=3 * ANYIO_BACKENDS)


def test_a_misused_marker_says_how_to_write_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_inner="""
import pytest

@pytest.mark.speedpix_time_scale("fast")
def test_x(speedpix_emulator):
    pass
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:asyncio", "-q")
    result.stdout.fnmatch_lines(["*speedpix time scale must be a number >= 0, got 'fast'*"])
    assert result.ret != 0


def test_the_marker_is_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.speedpix_time_scale(scale):*"])
