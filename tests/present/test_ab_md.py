"""The A/B pages (xbench.present.ab_md): the proof block and a version change, rendered."""

import dataclasses
import json

import numpy as np
import pytest

from tests.helpers import synthetic_run
from xbench.analysis.paired import (
    summaries,
)
from xbench.errors import UsageError


def test_the_proof_block_reads_its_runs_at_their_own_threshold(tmp_path):
    """A confirmation measured what the run's threshold flagged, so the proof is reported at
    that threshold; runs made at two thresholds are not one proof."""
    from xbench.jobs.report import ab_proof_block

    rng = np.random.default_rng(5)
    folder = tmp_path / "results" / "ab" / "proof"
    folder.mkdir(parents=True)
    for i in range(2):
        for name, truth in (("aa", 1.0), ("inject", 1.1)):
            run = synthetic_run(rng, {"fused": truth}, bias_sd=0.01)
            run = dataclasses.replace(run, machine={"cpu_model": "Test CPU"},
                                      settings={**run.settings, "time_budget": 60.0})  # fmt: skip
            run.save(folder / f"{name}-{i}.json", summaries(run))
    calibration = {"benchmarks": [{"id": "update-adamw-torch-fused", "injected_work": 0.16,
                                   "slowdown": 0.10, "round_pairs": 800}]}  # fmt: skip
    (folder / "calibration.json").write_text(json.dumps(calibration))
    page = tmp_path / "docs" / "ab.md"
    block = ab_proof_block(tmp_path / "results", page)
    assert "threshold 2%" in block and "2 of 2" in block
    # Perturbed: one run made at another threshold.
    doc = json.loads((folder / "aa-1.json").read_text())
    doc["settings"]["threshold"] = 0.005
    (folder / "aa-1.json").write_text(json.dumps(doc))
    with pytest.raises(UsageError, match="different thresholds"):
        ab_proof_block(tmp_path / "results", page)


def test_a_version_change_renders_with_its_intervals(tmp_path):
    from xbench.present.ab_md import version_change_markdown, versions_section

    rng = np.random.default_rng(6)
    run = synthetic_run(rng, {"fused": 1.1, "foreach": 1.0})
    run.machine["cpu_model"] = "Test CPU"
    run.settings.update(threads=2, time_budget=60)
    run.base.versions.update(jax="0.10.1")
    path = run.save(tmp_path / "ab.json", summaries(run))
    text = version_change_markdown(path, run, tmp_path)
    assert "1 regressed, 1 unchanged" in text
    assert "`update-adamw-torch-fused`" in text and "regressed |" in text
    assert "[`ab.json`](ab.json)" in text and "Test CPU" in text
    assert versions_section([], tmp_path) == ""
    assert versions_section([(path, run)], tmp_path).startswith("## Version changes")
