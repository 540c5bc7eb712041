"""A side made runnable (xbench.run.sides): an environment of its own for a revision with
other constraints, and an interpreter side paired with its own checkout's adapters."""

import subprocess
import sys
from pathlib import Path


def test_a_revision_with_other_constraints_gets_an_environment_of_its_own(tmp_path, monkeypatch):
    """Same constraints.txt: this interpreter. Different: an environment built once from the
    revision's own constraints (the install itself is recorded here, not run)."""
    from xbench.run import machine
    from xbench.run import sides as ab

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "constraints.txt").write_text("torch==2.13.0\njax==0.10.2\n")
    monkeypatch.setattr(machine, "REPO", repo)
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "constraints.txt").write_text("torch==2.13.0\njax==0.10.2\n")
    assert ab.environment_for(tree / "constraints.txt", tree, print) == sys.executable

    (tree / "constraints.txt").write_text("torch==2.13.0\njax==0.10.1\n")
    ran = []

    def fake_run(command, **kwargs):
        ran.append(command)
        if command[1:3] == ["-m", "venv"]:
            Path(command[3], "bin").mkdir(parents=True)
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(ab.lifeline, "run", fake_run)
    python = ab.environment_for(tree / "constraints.txt", tree, print)
    env = Path(python).parents[1]
    assert env.parent == repo / ab.ENVIRONMENTS and (env / ".installed").is_file()
    assert ran[0][1:3] == ["-m", "venv"]
    assert ran[1][0] == python and ran[1][-2:] == [
        str(tree / "constraints.txt"),
        f"{tree}[torch,jax]",
    ]
    ran.clear()
    assert ab.environment_for(tree / "constraints.txt", tree, print) == python
    assert ran == []  # built once


def test_an_interpreter_side_takes_the_adapters_of_its_own_checkout(tmp_path):
    """xbench run from a second checkout pairs that checkout's xbench with its own adapters,
    not the installed ones; outside a checkout, the installed adapters."""
    from xbench.run import sides as ab

    checkout = tmp_path / "checkout"
    (checkout / "xbench").mkdir(parents=True)
    (checkout / "adapters").mkdir()
    (checkout / "adapters" / "__init__.py").write_text("")
    assert ab.adapters_beside(checkout / "xbench") == checkout / "adapters"
    (tmp_path / "installed" / "xbench").mkdir(parents=True)
    installed = ab.adapters_beside(tmp_path / "installed" / "xbench")
    assert installed != checkout / "adapters" and (installed / "jax_adapter.py").is_file()
