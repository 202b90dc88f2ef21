"""The pytest plugin's documented examples work under both async test runners people use:
pytest-asyncio (strict mode, the default, needs a marker) and anyio's own plugin."""

from __future__ import annotations

import pytest

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
    ("marker", "args"),
    [
        ("@pytest.mark.asyncio", ["-p", "no:anyio", "-o", "asyncio_mode=strict"]),
        ("@pytest.mark.anyio", ["-p", "no:asyncio"]),
    ],
    ids=["pytest-asyncio", "anyio"],
)
def test_the_documented_example_runs_under(
    pytester: pytest.Pytester, marker: str, args: list[str]
) -> None:
    pytester.makepyfile(test_inner=INNER.format(marker=marker))
    result = pytester.runpytest_subprocess(*args, "-q")
    result.assert_outcomes(passed=2)
