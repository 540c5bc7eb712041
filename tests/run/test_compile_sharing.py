"""One compiled JAX program per structure: a case's numbers (η, λ, β, ε, ...) are arguments
of its programs, so the check compiles as many programs as it has structures, however many
values of each it tries; and each case still gets its own numbers."""

import collections
import json

import numpy as np
import pytest

from tests.helpers import adapter_class
from xbench.run.registry import run_case
from xbench.workloads.cases import Case

# Structures with every kind of number a program takes: each list is one structure's cases
# with different values.
FAMILIES = {
    "adamw-decoupled": [
        Case(optimizer="adamw", rule="weight_decay", lr=lr, weight_decay=wd, beta1=b1, beta2=b2,
             eps=eps)
        for lr, wd, b1, b2, eps in [(0.01, 0.1, 0.9, 0.999, 1e-8), (0.02, 0.3, 0.8, 0.99, 1e-6),
                                    (5e-3, 0, 0.9, 0.95, 1)]
    ],
    "momentum-cosine-schedule": [
        Case(optimizer="momentum", rule="add_decayed_weights", schedule=schedule, lr=lr,
             weight_decay=wd)
        for schedule in ("cosine", "linear")
        for lr, wd in [(0.05, 0.1), (0.1, 0.01)]
    ],
    "momentum-elastic-net-clipped": [
        Case(optimizer="momentum", rule="elastic_net_loss", lr=lr, weight_decay=wd, momentum=mu,
             l1_ratio=a, clip_norm=c, clip_eps=0.0)
        for lr, wd, mu, a, c in [(0.05, 0.1, 0.9, 0.5, 1.0), (0.1, 0.01, 0.5, 0.2, 0.3)]
    ],
    "rmsprop-add-decayed-weights": [
        Case(optimizer="rmsprop", rule="add_decayed_weights", lr=lr, weight_decay=wd, alpha=al,
             eps=eps, momentum=mu)
        for lr, wd, al, eps, mu in [(1e-3, 0.1, 0.99, 1e-8, 0.9), (2e-3, 0.2, 0.9, 1e-6, 0.5)]
    ],
    "adagrad-l1-prox": [
        Case(optimizer="adagrad", rule="l1_prox", lr=lr, weight_decay=wd, initial_accumulator=acc,
             eps_in_sqrt=True)
        for lr, wd, acc in [(0.05, 0.05, 0.0), (0.1, 0.02, 0.1)]
    ],
    "batch-norm-momentum": [
        Case(model="mlp_bn", optimizer="sgd", rule="add_decayed_weights", weight_decay=0.1,
             bn_momentum=m, batch_size=8)
        for m in (0.1, 0.3, 0.9)
    ],
}  # fmt: skip


def compiles(jax_adapter, cases) -> int:
    """How many XLA compilations running ``cases`` one after another takes, from no program."""
    import jax

    jax_adapter.SHARED_PROGRAMS.clear()
    jax.clear_caches()
    count = collections.Counter()

    def listen(event, seconds, **kwargs):
        if event.endswith("backend_compile_duration"):
            count["compiles"] += 1

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        for case in cases:
            run_case("jax", case.replace(steps=3))
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
    return count["compiles"]


@pytest.fixture(scope="module")
def jax_adapter():
    import sys

    adapter_class("jax")
    return sys.modules["xbench_adapters.jax_adapter"]


@pytest.mark.parametrize("family", FAMILIES)
def test_compile_count_grows_with_structures_not_values(jax_adapter, family):
    cases = FAMILIES[family]
    one_each = list({jax_adapter.structure(c, "jit"): c for c in cases}.values())
    assert len(one_each) == len({c.schedule for c in cases}) < len(cases)
    first = compiles(jax_adapter, one_each)
    assert first >= len(one_each)
    assert compiles(jax_adapter, cases) == first, "a new value compiled a new program"


def test_the_count_sees_a_number_compiled_in(jax_adapter, monkeypatch):
    """The perturbed input: with η made part of the structure (a constant in the program),
    each value compiles again, and the count says so."""
    structure = jax_adapter.structure
    monkeypatch.setattr(jax_adapter, "structure", lambda c, i: (structure(c, i), c.lr))
    cases = FAMILIES["adamw-decoupled"]
    assert compiles(jax_adapter, cases) > compiles(jax_adapter, cases[:1])


def cases_off_when_shared(jax_adapter, cases) -> list[int]:
    """Which of ``cases``, run after the others of its structure (their program reused),
    differs from itself run first with a program of its own."""
    jax_adapter.SHARED_PROGRAMS.clear()
    shared = [run_case("jax", c) for c in cases]
    off = []
    for index, (case, trajectory) in enumerate(zip(cases, shared, strict=True)):
        jax_adapter.SHARED_PROGRAMS.clear()
        alone = run_case("jax", case)
        same = np.array_equal(trajectory.loss, alone.loss) and all(
            np.array_equal(trajectory.params[n], v) for n, v in alone.params.items()
        )
        same = same and all(np.array_equal(trajectory.stats[n], v) for n, v in alone.stats.items())
        if not same:
            off.append(index)
    return off


@pytest.mark.parametrize("family", FAMILIES)
def test_a_shared_program_runs_each_case_with_its_own_numbers(jax_adapter, family):
    """Bit for bit: no number is left over from the case that compiled the program."""
    cases = [c.replace(steps=3) for c in FAMILIES[family]]
    assert cases_off_when_shared(jax_adapter, cases) == []
    first, second = (run_case("jax", c) for c in cases[:2])
    assert any(not np.array_equal(first.params[n], second.params[n]) for n in first.params) or any(
        not np.array_equal(first.stats[n], second.stats[n]) for n in first.stats
    )


def test_a_number_read_from_the_case_inside_a_program_is_caught(jax_adapter, monkeypatch):
    """The perturbed adapter: η read from the case the program was built with, not from its
    arguments; the second case then runs with the first one's η, and the check says so."""
    schedule = jax_adapter.learning_rate
    monkeypatch.setattr(jax_adapter, "learning_rate", lambda case, h=None: schedule(case))
    cases = [c.replace(steps=3) for c in FAMILIES["adamw-decoupled"]]
    assert cases_off_when_shared(jax_adapter, cases) == [1, 2]


def test_a_second_check_loads_every_program_from_the_cache(tmp_path, monkeypatch, capsys):
    """Between runs: a check's workers compile into the cache folder, and the same check
    again compiles nothing; --profile says so, and the numbers are the same."""
    from xbench.cli import main
    from xbench.run import compile_cache

    adapter_class("jax")
    monkeypatch.setenv(compile_cache.ENVIRONMENT, str(tmp_path / "cache"))
    profiles, records = [], []
    for run in ("first", "second"):
        argv = ["check", "--model", "linear", "--framework", "jax", "--jobs", "2", "--profile"]
        assert main([*argv, "--json", str(tmp_path / f"{run}.json")]) == 0
        out = capsys.readouterr().out
        jax_row = next(line for line in out.splitlines() if line.startswith("| jax"))
        cells = [cell.strip() for cell in jax_row.strip("|").split("|")]
        numbers = map(int, cells[1:2] + cells[5:7])
        profiles.append(dict(zip(("runs", "compiled", "cached"), numbers, strict=True)))
        records.append(json.loads((tmp_path / f"{run}.json").read_text())["entries"])
        assert str(compile_cache.folder()) in out
    first, second = profiles
    assert first["runs"] == second["runs"] > 0
    assert first["compiled"] >= first["runs"]  # at least each run's training step
    # each worker loads what it needs (which runs a worker takes varies, so does the total)
    assert second["compiled"] == 0 and second["cached"] >= second["runs"]
    assert [e["agreement"] for e in records[0]] == [e["agreement"] for e in records[1]]
    assert list((tmp_path / "cache").glob("jax-*"))


def test_the_cache_can_be_turned_off(monkeypatch, tmp_path):
    from xbench.run import compile_cache

    for off in (compile_cache.OFF, "OFF", "Off"):
        monkeypatch.setenv(compile_cache.ENVIRONMENT, off)
        assert compile_cache.folder() is None
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(compile_cache.ENVIRONMENT, "relative")
    assert compile_cache.folder().parent == tmp_path / "relative"
    monkeypatch.setenv(compile_cache.ENVIRONMENT, str(tmp_path))
    assert compile_cache.folder().parent == tmp_path
    monkeypatch.delenv(compile_cache.ENVIRONMENT)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compile_cache.folder().parent == tmp_path / "xdg" / "xbench"
    # without filelock JAX cannot lock the folder: no cache rather than one per process
    find_spec = compile_cache.importlib.util.find_spec
    monkeypatch.setattr(
        compile_cache.importlib.util,
        "find_spec",
        lambda m: None if m == "filelock" else find_spec(m),
    )
    assert compile_cache.folder() is None


def test_a_folder_that_cannot_hold_the_cache_is_said_in_one_line(tmp_path, monkeypatch, capsys):
    """The check runs without the cache, says so once, and the profile says it was not used;
    a writable folder is usable (the perturbed input)."""
    from xbench.cli import main
    from xbench.run import compile_cache

    adapter_class("jax")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert compile_cache.unusable(tmp_path / "cache") is None
    assert compile_cache.unusable(blocker / "cache")
    monkeypatch.setenv(compile_cache.ENVIRONMENT, str(blocker / "cache"))
    argv = ["check", "--model", "linear", "--framework", "jax", "--jobs", "2", "--profile"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    said = [line for line in err.splitlines() if "compilation cache" in line]
    assert len(said) == 1 and "running without it" in said[0] and "Traceback" not in err
    assert "cannot be used" in out


def test_profile_and_list_together_are_refused(capsys):
    from xbench.cli import main

    assert main(["check", "--profile", "--list"]) == 2
    assert "--profile" in capsys.readouterr().err
