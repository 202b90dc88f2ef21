"""``speedpix batch --shard auto`` as pods of a Kubernetes Indexed Job run it: N real processes,
each with ``JOB_COMPLETION_INDEX`` / ``JOB_COMPLETIONS`` set, share one inputs file; every input
runs exactly once. The manifest in examples/ must match what the command reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from speedpix_async.cli import main
from speedpix_async.emulator import LoopbackServer

pytestmark = pytest.mark.loopback

INPUTS = 23  # not a multiple of the shard count: the last shards get one fewer
SHARDS = 4
BATCH = (sys.executable, "-m", "speedpix_async", "batch", "wf-echo")
MANIFEST = Path(__file__).parents[2] / "examples" / "k8s-indexed-job.yaml"


def test_shards_of_an_indexed_job_run_every_input_exactly_once(
    server: LoopbackServer, tmp_path: Path
) -> None:
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text("".join(json.dumps({"n": n}) + "\n" for n in range(INPUTS)))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SPEEDPIX_", "JOB_"))},
        "SPEEDPIX_ENDPOINT": server.endpoint,
        "SPEEDPIX_APP_KEY": server.emulator.app_key,
        "SPEEDPIX_APP_SECRET": server.emulator.app_secret,
        "JOB_COMPLETIONS": str(SHARDS),
    }
    pods = [
        subprocess.Popen(
            [*BATCH, str(inputs), "--shard", "auto", "--out", str(tmp_path / f"r-{index}.jsonl")],
            env={**env, "JOB_COMPLETION_INDEX": str(index)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(SHARDS)
    ]
    for pod in pods:
        _, errors = pod.communicate(timeout=120)
        assert pod.returncode == 0, errors
    ran: list[int] = []
    for index in range(SHARDS):
        lines = (tmp_path / f"r-{index}.jsonl").read_text().splitlines()
        results = [json.loads(line) for line in lines]
        assert all(result["status"] == "succeeded" for result in results)
        # Pod I (0-based) took inputs I, I+N, I+2N…
        assert sorted(result["index"] for result in results) == list(range(index, INPUTS, SHARDS))
        ran += [result["output"]["echo"]["n"] for result in results]
    assert sorted(ran) == list(range(INPUTS))  # every input once, none twice
    assert server.emulator.stats.snapshot()["tasks_created"]["total"] == INPUTS


def test_auto_outside_an_indexed_job_says_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text('{"n": 1}\n')
    monkeypatch.delenv("JOB_COMPLETION_INDEX", raising=False)
    monkeypatch.setenv("JOB_COMPLETIONS", "4")
    out = tmp_path / "r.jsonl"
    code = main(["batch", "wf-echo", str(inputs), "--out", str(out), "--shard", "auto"])
    assert code != 0
    error = capsys.readouterr().err
    assert "JOB_COMPLETION_INDEX is not set" in error
    assert not out.exists()


def test_the_example_manifest_sets_what_shard_auto_reads() -> None:
    text = MANIFEST.read_text()
    assert "completionMode: Indexed" in text
    completions = text.split("completions:", 1)[1].split()[0]
    assert f'- name: JOB_COMPLETIONS\n              value: "{completions}"' in text
    assert "--shard auto" in text
    assert "results-$JOB_COMPLETION_INDEX.jsonl" in text  # one results file (and journal) per pod
