"""The command line and the readers, fuzzed (hypothesis): argument vectors drawn from the
parsers' own grammar mixed with junk, and input files that are empty, truncated, binary,
JSON of the wrong shape, another xbench kind, or broken traces. The property, for every
command that reads files: exit 0, 1 or 2; never a traceback; at most a few lines on stderr
on error; nothing written on error.

``make test`` runs a few seeded examples per command; ``make fuzz`` (XBENCH_FUZZ=long) many
more. The commands' long work (a run, a timing, a training) is replaced by ``Reached``:
everything before it, the real validation, runs.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xbench.analysis.compare import STATS
from xbench.cli import build_parser, main
from xbench.present.export import FORMATS
from xbench.records.trace import save_npz
from xbench.run.check import FILTER_CHOICES
from xbench.run.registry import run_case
from xbench.workloads.cases import (
    DTYPES,
    MASKS,
    OPTIMIZERS,
    RULES,
    RUNNERS,
    RUNNING_VARS,
    SCHEDULES,
    VARIANTS,
    Case,
)
from xbench.workloads.models import MODELS

REPO = Path(__file__).resolve().parents[2]
LONG = os.environ.get("XBENCH_FUZZ") == "long"
settings.register_profile(
    "xbench-fuzz",
    max_examples=8,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "xbench-fuzz-long",
    max_examples=int(os.environ.get("XBENCH_FUZZ_EXAMPLES", "2000")) // 10,
    deadline=None,
    derandomize=False,
    database=None,
    suppress_health_check=list(HealthCheck),
)
PROFILE = settings.get_profile("xbench-fuzz-long" if LONG else "xbench-fuzz")

COMMANDS = (
    "report", "compare", "ab", "export", "explain", "study", "translate", "migrate", "trace",
    "check",
)  # fmt: skip
LABEL = "cpu-fuzz"
RUN = f"results/{LABEL}/0001_abc1234_default_20260101T000000Z.json"
OLD_RUN = f"results/{LABEL}/20250101T000000Z_default_abc1234.json"
CHECK = f"results/checks/{LABEL}/20260101T000000Z_check_abc1234.json"
STUDY = "results/study/runs/20260101T000000Z_quick_abc1234.json"
AB = "results/ab/versions/20260101T000000Z_a_to_b.json"
FILES = ("a.json", "b.json", "c.json", RUN, OLD_RUN, CHECK, STUDY, AB)
TRACES = ("t1.npz", "t2.npz")
PATHS = FILES + TRACES + ("folder", "results", f"results/{LABEL}", "missing.json", "locked.json",
                          "out/new.md", "folder/x.npz", "")  # fmt: skip


class Reached(Exception):
    """The command got past its validation to its long work (a run, a timing, training)."""


def _reach(*args, **kwargs):
    raise Reached


# ------------------------------------------------------------------------- valid samples


def _trimmed(doc: dict, lists: dict[str, int]) -> dict:
    return doc | {k: doc[k][:n] for k, n in lists.items() if isinstance(doc.get(k), list)}


def _newest(pattern: str) -> dict:
    found = sorted(REPO.glob(pattern))
    return json.loads(found[-1].read_text()) if found else {}


SAMPLES: dict[str, dict] = {}


def samples() -> dict[str, dict]:
    """One real document of each xbench kind (from results/), cut short."""
    if not SAMPLES:
        SAMPLES["bench"] = _trimmed(
            _newest("results/*/0*_*.json"), {"benchmarks": 3, "harness_self_test": 1}
        )
        SAMPLES["check"] = _trimmed(_newest("results/checks/*/*.json"), {"entries": 4})
        SAMPLES["ab"] = _trimmed(_newest("results/ab/versions/*.json"), {"benchmarks": 2})
        SAMPLES["study"] = _newest("results/study/runs/*.json")
    return SAMPLES


TRACE: dict[str, dict[str, np.ndarray]] = {}


def trace_arrays() -> dict[str, np.ndarray]:
    """A real two-step trace (torch, linear model), as arrays."""
    if not TRACE:
        with tempfile.TemporaryDirectory() as tmp:
            out = save_npz(run_case("torch", Case(model="linear", steps=2)), Path(tmp) / "t.npz")
            with np.load(out) as data:
                TRACE["t"] = {k: data[k] for k in data.files}
    return TRACE["t"]


# ---------------------------------------------------------------------- junk and values

JUNK_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
)
NUMBERS = st.sampled_from(
    ["0", "-0", "1", "-1", "2", "3", "nan", "-nan", "inf", "-inf", "1e309", "-1e-320", "0.5",
     "1e-3", "10**9", "99999999999999999999999", "0x10", "1_000", " 1", "1.", "½", "٣"]
)  # fmt: skip
JUNK = st.one_of(JUNK_TEXT, NUMBERS, st.sampled_from(["", "-", "--", "-x", "--bogus", "é"]))
JSON_LEAF = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), JUNK_TEXT
)
JSON_VALUE = st.recursive(
    JSON_LEAF,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(JUNK_TEXT, inner, max_size=3)
    ),
    max_leaves=6,
)

VOCABULARY = {
    "model": list(MODELS), "optimizer": list(OPTIMIZERS), "rule": list(RULES),
    "dtype": list(DTYPES), "schedule": list(SCHEDULES), "mask": [m for m in MASKS if m],
    "variant": [v for v in VARIANTS if v], "framework": list(RUNNERS), "stat": list(STATS),
    "bn_running_var": list(RUNNING_VARS), "form": list(FORMATS), "label": [LABEL, "x", "."],
    "device": ["cpu", "cuda", "cuda:0", "cuda:-1"], "threshold": ["5%", "10%", "0.1", "-5%"],
    "time_budget": ["5m", "300s", "0s", "1min"], "conditions": ["none", "none,l2-1e-4", ","],
    "select": ["adamw", "not adamw", "("], "to": ["optax", "torch"],
    "reason": ["why"], "base": ["HEAD", "main", "/usr/bin/python3"],
    "new": ["HEAD", "nonexistent-rev"],
    "spec": [
        "torch.optim.AdamW(params, lr=3e-4, weight_decay=0.1)", "optax.adamw(1e-3)",
        "optax.chain(optax.add_decayed_weights(1e-4), optax.sgd(0.1))",
        "torch.optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True)",
        "__import__('os').system('true')", "optax.adamw(", "torch.optim.Adam(params, lr=nan)",
    ],
} | {flag: list(valid) for flag, valid in FILTER_CHOICES.items()}  # fmt: skip


def value_for(action: argparse.Action) -> st.SearchStrategy[str]:
    """A value for ``action``: one it accepts (by its choices, type and the xbench
    vocabulary for its name), or junk."""
    good = []
    if action.choices:
        good.append(st.sampled_from(list(action.choices)))
    if action.dest in VOCABULARY:
        good.append(st.sampled_from(VOCABULARY[action.dest]))
    if action.type in (int, float):
        good.append(NUMBERS)
    if action.type is Path or action.dest in ("a", "b", "runs", "run", "render", "bench"):
        good.append(st.sampled_from(PATHS))
    if not good:
        good.append(JUNK_TEXT)
    return st.one_of(*good, JUNK)


def subparser(command: str) -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[command]


@st.composite
def argv_for(draw, command: str) -> list[str]:
    """An argument vector for ``command``: its positionals and a random subset of its
    options (forms ``--flag value`` and ``--flag=value``), plus occasional junk."""
    actions = [a for a in subparser(command)._actions if not isinstance(a, argparse._HelpAction)]
    argv = [command]
    options = [a for a in actions if a.option_strings]
    chosen = draw(st.lists(st.sampled_from(options), max_size=5)) if options else []
    for action in chosen:
        flag = draw(st.sampled_from(action.option_strings))
        if action.nargs == 0 or (action.nargs == "?" and draw(st.booleans())):
            argv.append(flag)
        elif draw(st.integers(0, 9)) == 0 and flag.startswith("--"):
            argv.append(f"{flag}={draw(value_for(action))}")
        else:
            argv += [flag, draw(value_for(action))]
    for action in (a for a in actions if not a.option_strings):
        count = draw(st.integers(0, 3)) if action.nargs == "*" else 1
        count = count if draw(st.integers(0, 19)) else count + draw(st.sampled_from([-1, 1]))
        argv += [draw(value_for(action)) for _ in range(max(count, 0))]
    if not draw(st.integers(0, 9)):
        argv.insert(draw(st.integers(1, len(argv))), draw(JUNK))
    return argv


# --------------------------------------------------------------------------- input files


@st.composite
def mutated(draw, doc: object, depth: int = 0) -> object:
    """``doc`` with one value somewhere inside replaced, removed or retyped."""
    if depth < 6 and isinstance(doc, dict) and doc and draw(st.integers(0, 4)):
        key = draw(st.sampled_from(sorted(doc)))
        if not draw(st.integers(0, 5)):
            return {k: v for k, v in doc.items() if k != key}
        return doc | {key: draw(mutated(doc[key], depth + 1))}
    if depth < 6 and isinstance(doc, list) and doc and draw(st.integers(0, 4)):
        index = draw(st.integers(0, len(doc) - 1))
        if not draw(st.integers(0, 5)):
            return doc[:index] + doc[index + 1 :]
        return doc[:index] + [draw(mutated(doc[index], depth + 1))] + doc[index + 1 :]
    return draw(st.one_of(JSON_VALUE, st.sampled_from([math.nan, math.inf, -1, 0, "", [], {}])))


def dumps(doc: object) -> bytes:
    return json.dumps(doc, allow_nan=True).encode()


@st.composite
def json_file(draw, kind: str) -> bytes:
    """The bytes of a file where an xbench ``kind`` document is expected."""
    docs = samples()
    doc = docs[kind] if draw(st.integers(0, 3)) else docs[draw(st.sampled_from(sorted(docs)))]
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return draw(st.sampled_from([b"", b"  \n", b"\xff\xfe\x00", b"{", b"[1, 2"]))
    if choice == 1:
        return draw(st.binary(max_size=40))
    if choice == 2:
        data = dumps(doc)
        return data[: draw(st.integers(0, len(data) - 1))]
    if choice == 3:
        return dumps(draw(JSON_VALUE))
    if choice == 4:
        return dumps(doc)
    return dumps(draw(mutated(doc)))


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@st.composite
def trace_file(draw) -> bytes:
    """The bytes of a trace: real, or with an array missing, reshaped, retyped, an object
    array, a case that is not one, or not an .npz at all."""
    arrays = dict(trace_arrays())
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return draw(st.sampled_from([b"", b"PK\x03\x04", b"\x93NUMPY", b"not a zip"]))
    if choice == 1:
        data = npz_bytes(arrays)
        return data[: draw(st.integers(0, len(data) - 1))]
    if choice == 2:
        buffer = io.BytesIO()
        np.save(buffer, arrays["loss"])
        return buffer.getvalue()
    if choice == 3:
        return npz_bytes(arrays)
    name = draw(st.sampled_from(sorted(arrays)))
    value = arrays[name]
    if choice == 4:
        del arrays[name]
    elif choice == 5:
        shapes = [value.ravel(), value[..., None], np.atleast_1d(value)[:1], np.zeros((0,))]
        arrays[name] = draw(st.sampled_from([*shapes, np.float64(1.0)]))
    elif choice == 6:
        kinds = ["int8", "complex128", "bool", "float16", "U3", "S2", "datetime64[s]"]
        arrays[name] = np.zeros(value.shape, dtype=draw(st.sampled_from(kinds)))
    elif choice == 7:
        arrays[name] = np.array([{"a": 1}, None], dtype=object)
    elif choice == 8:
        case = json.loads(str(arrays["case"]))
        arrays["case"] = np.array(json.dumps(draw(mutated(case)), allow_nan=True))
    else:
        arrays["case"] = np.array(draw(JUNK_TEXT))
    return npz_bytes(arrays)


@st.composite
def folder(draw) -> dict[str, bytes]:
    """The files of one example's working folder."""
    kinds = {RUN: "bench", OLD_RUN: "bench", CHECK: "check", STUDY: "study", AB: "ab"}
    files = {}
    for path in FILES:
        kind = kinds.get(path) or draw(st.sampled_from(["bench", "check", "study", "ab"]))
        if path in kinds and not draw(st.integers(0, 2)):
            continue
        files[path] = draw(json_file(kind))
    files |= {path: draw(trace_file()) for path in TRACES}
    return files


# ----------------------------------------------------------------------------- property


@pytest.fixture
def no_long_work(monkeypatch):
    """Each command's long work raises Reached: its validation runs, nothing is timed."""
    for target in (
        "xbench.jobs.trace.run_case",
        "xbench.cli.check.run_check",
        "xbench.cli.ab.run_ab",
        "xbench.cli.compare.gate_now",
        "xbench.cli.compare.update_baseline",
        "xbench.study.job.study",
        "xbench.translate.job.verify_case",
    ):
        monkeypatch.setattr(target, _reach)


def lay_out(root: Path, files: dict[str, bytes]) -> None:
    for name in ("folder", "out", f"results/{LABEL}", f"results/checks/{LABEL}"):
        (root / name).mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    locked = root / "locked.json"
    locked.write_bytes(dumps(samples()["check"]))
    locked.chmod(0)  # as root it stays readable: then it is one more valid file


def snapshot(root: Path) -> dict[str, tuple[int, int] | str]:
    """Every file's size and time, every folder's name. A folder's own time is left out:
    checking that a file can be written there (made and removed before any work) moves it,
    and leaves nothing."""
    found: dict[str, tuple[int, int] | str] = {}
    for folder, dirs, names in os.walk(root):
        for name in dirs:
            found[str((Path(folder) / name).relative_to(root))] = "folder"
        for name in names:
            path = Path(folder) / name
            info = path.lstat()
            found[str(path.relative_to(root))] = (info.st_size, info.st_mtime_ns)
    return found


def run_in(root: Path, argv: list[str], capsys) -> tuple[int, str, str, bool]:
    """``main(argv)`` in ``root``: exit code, stdout, stderr, whether it reached long work."""
    cwd, reached = os.getcwd(), False
    os.chdir(root)
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse: --version, usage errors
        code = exc.code if isinstance(exc.code, int) else 2
    except Reached:
        code, reached = 0, True
    finally:
        os.chdir(cwd)
    out = capsys.readouterr()
    return code, out.out, out.err, reached


def check_property(files: dict[str, bytes], argv: list[str], capsys) -> None:
    """The property: exit 0, 1 or 2, no traceback, a short error, nothing written on error."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        lay_out(root, files)
        before = snapshot(root)
        try:
            code, out, err, reached = run_in(root, argv, capsys)
        finally:
            (root / "locked.json").chmod(0o600)
        after = snapshot(root)
    where = f"xbench {' '.join(map(repr, argv))}"
    assert code in (0, 1, 2), f"{where}: exit {code}\n{err}"
    assert "Traceback" not in err + out, f"{where}:\n{err}"
    if code == 2:
        assert len(err.strip().splitlines()) <= 3, f"{where}: a long error\n{err}"
    if code != 0 and not reached:
        assert after == before, f"{where}: exit {code} wrote {set(after) ^ set(before)}"


@pytest.mark.usefixtures("no_long_work")
@pytest.mark.parametrize("command", COMMANDS)
@PROFILE
@given(data=st.data())
def test_fuzzed_command_never_breaks(command, data, capsys):
    files = data.draw(folder(), label="files")
    argv = data.draw(argv_for(command), label="argv")
    check_property(files, argv, capsys)


# ------------------------------------------------------- failures the fuzzing found, kept


@pytest.mark.parametrize("content", [b"null", b'{"benchmarks": [{}], "machine_info": {}}'])
def test_migrate_refuses_a_malformed_old_run_and_moves_nothing(content, capsys):
    """Found by make fuzz: `xbench migrate` met an old-named bench run that is JSON but not a
    run (``null``; a benchmark without ``extra_info``) with a traceback."""
    check_property({OLD_RUN: content, f"results/{LABEL}/20250102T000000Z_default_b.json": b"{}"},
                   ["migrate"], capsys)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        lay_out(Path(tmp), {OLD_RUN: content})
        code, _, err, _ = run_in(Path(tmp), ["migrate"], capsys)
        (Path(tmp) / "locked.json").chmod(0o600)
    assert code == 2 and "not a bench run to migrate" in err


def test_an_option_given_the_separator_as_its_value_is_refused(capsys):
    """Found by make fuzz: argparse turns ``--results=--`` into ``[]``; migrate then failed
    with an AttributeError and exit 1."""
    check_property({}, ["migrate", "--results=--"], capsys)
    with tempfile.TemporaryDirectory() as tmp:
        code, _, err, _ = run_in(Path(tmp), ["migrate", "--results=--"], capsys)
    assert code == 2 and "argument --results: expected one value" in err
