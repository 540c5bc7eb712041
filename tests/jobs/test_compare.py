"""``make compare`` on a machine with no recorded baseline check (a CI runner it has never
seen): the baseline revision is checked here first, then compared, without `make baseline`."""

import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from xbench.errors import UsageError
from xbench.jobs import compare as gate
from xbench.records import scratch
from xbench.records.check_run import load as load_check

RESULTS = Path(__file__).resolve().parents[2] / "results"
RECORDED = RESULTS / "baseline" / "cpu-amd-epyc-2t" / "check.json"


def perturbed(source: Path, target: Path) -> Path:
    """``source`` with its first expected-equal entry no longer equal."""
    doc = json.loads(source.read_text())
    entry = next(e for e in doc["entries"] if e["expected"] == "equal")
    entry["agreement"].update(equal=False, first_divergent_step=3, max_error_ratio=40.0)
    entry.update(held=False, verdict="FAIL: differs from step 3")
    target.write_text(json.dumps(doc))
    return target


@pytest.fixture
def unseen(tmp_path, monkeypatch):
    """A baseline folder holding only revision.json; the check now and the revision's check
    stubbed by recorded files; timing stubbed out (``xbench ab`` has its own tests)."""
    against = tmp_path / "baseline"
    against.mkdir()
    shutil.copy(RESULTS / "baseline" / "revision.json", against)
    calls = []

    def check_now(device, folder):
        return Path(shutil.copy(calls_now.pop(), folder / "check.json"))

    def check_revision(commit, device, folder):
        calls.append(commit)
        return Path(shutil.copy(RECORDED, folder / "baseline-check.json"))

    calls_now = []
    monkeypatch.setattr(scratch.tempfile, "tempdir", str(tmp_path))  # its kept folder: here
    monkeypatch.setattr(gate, "check_now", check_now)
    monkeypatch.setattr(gate, "check_revision", check_revision)
    monkeypatch.setattr(gate, "run_ab", lambda request: "timing")
    monkeypatch.setattr(gate, "verdicts", lambda timing: {})
    return against, calls, calls_now


def test_an_unseen_machine_checks_the_baseline_revision_and_passes(unseen):
    against, calls, now = unseen
    now.append(RECORDED)
    assert not (against / "never-seen-2t").exists()
    result = gate.gate_now(against, "never-seen-2t", "cpu", 2, 0.005, warn_only=False)
    commit = json.loads((against / "revision.json").read_text())["commit"]
    assert calls == [commit]
    assert result.equivalence.compared == len(load_check(RECORDED).entries)
    assert not result.equivalence.regressions and not result.failed
    assert not (
        against / "never-seen-2t"
    ).exists()  # nothing recorded: the fast path is make baseline


def test_an_unseen_machine_fails_when_an_equivalence_regressed(unseen, tmp_path):
    against, calls, now = unseen
    now.append(perturbed(RECORDED, tmp_path / "perturbed.json"))
    result = gate.gate_now(against, "never-seen-2t", "cpu", 2, 0.005, warn_only=True)
    assert len(calls) == 1
    assert len(result.equivalence.regressions) == 1 and result.failed


def test_a_recorded_check_is_the_fast_path(unseen, tmp_path):
    against, calls, now = unseen
    (against / "seen-2t").mkdir()
    shutil.copy(RECORDED, against / "seen-2t" / "check.json")
    now.append(perturbed(RECORDED, tmp_path / "perturbed.json"))
    result = gate.gate_now(against, "seen-2t", "cpu", 2, 0.005, warn_only=False)
    assert calls == [] and result.failed


@pytest.mark.long
def test_the_revision_s_own_code_checks_it(tmp_path):
    """The real thing, on a few entries: HEAD's code, run by its own interpreter from an
    archive of the revision, writes a check that matches one made here."""
    from xbench.jobs.check import CheckRequest, run_check
    from xbench.run.check import Filters

    if gate.git("rev-parse", "HEAD").returncode != 0:
        pytest.skip("not a git checkout")
    folder = tmp_path / "gate"
    folder.mkdir()
    path = gate.check_revision("HEAD", "cpu", folder, ("--model", "linear"))
    theirs = load_check(path)
    ours, _ = run_check(CheckRequest(Filters(model=("linear",))), stream=io.StringIO())
    assert [e.name for e in theirs.entries] == [e.name for e in ours.entries]
    assert [e.held for e in theirs.entries] == [e.held for e in ours.entries]
    assert not (folder / "baseline-revision").exists()


def test_the_baseline_revision_round_trips_and_names_a_clean_commit(tmp_path, monkeypatch):
    from xbench.jobs import compare as gate
    from xbench.run import machine

    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=x", "-c", "user.email=x@x"]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "file.txt").write_text("one\n")
    subprocess.run([*git, "add", "file.txt"], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    monkeypatch.setattr(machine, "REPO", repo)
    commit = gate.clean_head()
    assert len(commit) == 40
    (repo / "file.txt").write_text("two\n")  # perturbed: an uncommitted change
    with pytest.raises(UsageError, match="uncommitted changes"):
        gate.clean_head()
    against = tmp_path / "baseline"
    gate.write_revision(against, commit, "first baseline")
    found = gate.read_revision(against)
    assert found.commit == commit and found.reason == "first baseline" and found.datetime
    (against / "revision.json").write_text('{"commit": "abc"}')
    with pytest.raises(UsageError, match="not a baseline revision"):
        gate.read_revision(against)
    with pytest.raises(UsageError, match="make baseline"):
        gate.read_revision(tmp_path)
