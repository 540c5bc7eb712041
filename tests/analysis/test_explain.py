"""xbench explain: each known cause, made on purpose, is named first; an unrelated change
gets "no known cause"; equal traces exit 0; bad input exits 2 with one line; the recipes of
docs/explain.md record real torch and JAX loops that explain reads."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from xbench_adapters.reference import ReferenceAdapter

from tests.helpers import adapter_class
from xbench.analysis.explain import A_TO_B, B_TO_A, Explanation, explain
from xbench.cli import main
from xbench.errors import UsageError
from xbench.records.trace import save_npz
from xbench.run.registry import run_case
from xbench.run.trajectory import record
from xbench.workloads.catalogue import case_for
from xbench.workloads.problems import make_problem

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "explain.md"


def ref(case):
    return run_case("reference", case)


def first(a, b) -> Explanation:
    result = explain(a, b)
    assert not result.equal and result.exit_code == 1
    assert result.causes, "no cause found"
    return result


# (name, A's case, B's changes, the cause named first): both sides run by the reference
SGD_LINEAR = case_for("mlp", "sgd", "weight_decay", "float64", schedule="linear")
REFERENCE_PAIRS = [
    ("no_half", case_for("mlp", "momentum", "l2_loss", "float64"), {"variant": "no_half"},
     "missing_half"),
    ("weight_decay_x2", case_for("mlp", "adam", "weight_decay", "float64"),
     {"weight_decay": 0.2}, "missing_half"),
    ("after_lr", case_for("mlp", "sgd", "add_decayed_weights", "float64"),
     {"variant": "after_lr"}, "after_lr"),
    ("sgd_decoupled", case_for("mlp", "momentum", "weight_decay", "float64"),
     {"variant": "decoupled"}, "coupling"),
    ("eps_rmsprop", case_for("mlp", "rmsprop", "weight_decay", "float64"),
     {"eps_in_sqrt": True}, "eps_placement"),
    ("eps_adagrad", case_for("mlp", "adagrad", "none", "float64"), {"eps_in_sqrt": True},
     "eps_placement"),
    ("per_epoch", SGD_LINEAR, {"variant": "schedule_per_epoch"}, "schedule_per_epoch"),
    ("early", SGD_LINEAR, {"variant": "schedule_early"}, "schedule_early"),
    ("clip", case_for("mlp", "sgd", "add_decayed_weights", "float64", clip_norm=0.5),
     {"variant": "decay_before_clip"}, "clip_order"),
]  # fmt: skip


@pytest.mark.parametrize(
    "case, changes, key", [p[1:] for p in REFERENCE_PAIRS], ids=[p[0] for p in REFERENCE_PAIRS]
)
def test_each_known_cause_is_named_first(case, changes, key):
    result = first(ref(case), ref(case.replace(**changes)))
    best = result.best
    assert best.key == key, [c.key for c in result.causes]
    assert best.exact and best.error_ratio == 0 and A_TO_B in best.directions
    assert result.a_own.equal and result.b_own.equal


def test_coupled_vs_decoupled_torch_adam_weight_decay_vs_adamw():
    adapter_class("torch")
    case = case_for("mlp", "adam", "weight_decay", "float64")
    result = first(run_case("torch", case), run_case("torch", case.replace(optimizer="adamw")))
    assert result.best.key == "coupling"
    assert set(result.best.directions) == {A_TO_B, B_TO_A}
    assert 0 < result.best.error_ratio <= 1 and not result.best.exact


def test_a_mask_difference_names_the_tensors():
    case = case_for("mlp", "adamw", "weight_decay", "float64")
    result = first(ref(case), ref(case.replace(mask="kernels")))
    assert result.best.key == "mask"
    assert result.best.tensors == ("dense0/bias", "dense1/bias", "out/bias")
    assert "kernels" in result.best.change


def test_an_unused_parameter_that_torch_skips_and_optax_decays():
    adapter_class("torch"), adapter_class("jax")
    case = case_for("mlp", "momentum", "add_decayed_weights", "float64", unused_param=True)
    optax_run = run_case("jax", case)
    torch_run = run_case("torch", case.replace(rule="weight_decay"))
    result = first(optax_run, torch_run)
    assert result.agreement.tensor == "unused/kernel"
    assert result.best.key == "no_gradient" and result.best.tensors == ("unused/kernel",)
    assert result.best.direction == A_TO_B


def test_decay_one_step_late():
    case = case_for("mlp", "adamw", "weight_decay", "float64")
    late = record(ReferenceAdapter(make_problem(case), case, decay_delay=1), case)
    result = first(ref(case), late)
    assert result.best.key == "late_decay" and result.best.exact


@pytest.mark.parametrize(
    "case, field, k",
    [
        (case_for("mlp", "adamw", "weight_decay", "float64"), "weight_decay", 1.37),
        (case_for("mlp", "adam", "l2_loss", "float64"), "weight_decay", 3.1),
        (case_for("mlp", "adam", "weight_decay", "float64"), "lr", 0.7),
        (case_for("mlp", "momentum", "weight_decay", "float64"), "lr", 1.25),
    ],
    ids=["adamw-lambda", "adam-l2-lambda", "adam-lr", "momentum-lr"],
)
def test_a_scaled_lambda_or_lr_is_named_with_its_factor(case, field, k):
    result = first(ref(case), ref(case.replace(**{field: getattr(case, field) * k})))
    best = result.best
    assert best.key == {"weight_decay": "lambda_scale", "lr": "lr_scale"}[field]
    expected = k if best.direction == A_TO_B else 1 / k
    assert best.factor == pytest.approx(expected, rel=0.01)
    assert f"{best.factor:.4g}" in best.change


def test_an_unrelated_change_has_no_known_cause(capsys, tmp_path):
    case = case_for("mlp", "adam", "weight_decay", "float64")
    result = explain(ref(case), ref(case.replace(beta2=0.99)))
    assert not result.equal and result.causes == () and result.tried > 10
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    save_npz(ref(case), a), save_npz(ref(case.replace(beta2=0.99)), b)
    code, out, _ = run_cli(capsys, "explain", str(a), str(b))
    assert code == 1
    assert "No known cause reproduces it (first divergence: step 2 in " in out


def test_float32_traces_are_compared_at_their_tolerance():
    adapter_class("torch")
    case = case_for("mlp", "adam", "weight_decay", "float32")
    result = first(run_case("torch", case), run_case("torch", case.replace(optimizer="adamw")))
    assert result.tolerance.rtol == 5e-6 and result.best.key == "coupling"


# ----------------------------------------------------------------------------- the CLI


def run_cli(capsys, *argv):
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def trace(capsys, path, *flags, framework="reference"):
    argv = ["trace", "--framework", framework, "--out", str(path), "--lr", "0.01", *flags]
    assert run_cli(capsys, *argv)[0] == 0
    return path


def test_exit_codes_end_to_end_with_xbench_trace(capsys, tmp_path):
    adapter_class("torch")
    flags = ["--optimizer", "adam", "--rule", "weight_decay", "--weight-decay", "0.1"]
    a = trace(capsys, tmp_path / "a.npz", *flags, framework="torch")
    same = trace(capsys, tmp_path / "same.npz", *flags)
    other = trace(capsys, tmp_path / "w.npz", *flags[:2], "--optimizer", "adamw", *flags[2:])
    code, out, err = run_cli(capsys, "explain", str(a), str(same))
    assert code == 0 and "agree at every step" in out and not err
    code, out, err = run_cli(capsys, "explain", str(a), str(other))
    assert code == 1 and not err
    assert "differ from step 1 in" in out
    assert re.search(r"^1\. coupled vs decoupled decay: A's case with .* reproduces B", out, re.M)
    assert "   fix: torch AdamW = optax.adamw" in out
    code, out, err = run_cli(capsys, "explain", str(a), str(tmp_path))
    assert code == 2 and not out and len(err.strip().splitlines()) == 1
    assert "is a directory" in err


def write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def arrays_of(path) -> dict:
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def bad_inputs(capsys, tmp_path) -> dict:
    """name -> (path, words the one-line error must hold)."""
    good = trace(capsys, tmp_path / "good.npz")
    arrays = arrays_of(good)
    text = tmp_path / "notes.npz"
    text.write_text("not an archive\n")
    pickled = write_npz(tmp_path / "pickled.npz", **arrays | {"x": np.array([{"a": 1}])})
    kernel = arrays["params/dense0/kernel"]
    swapped = write_npz(
        tmp_path / "swapped.npz", **arrays | {"params/dense0/kernel": kernel.swapaxes(1, 2)}
    )
    missing = write_npz(tmp_path / "missing.npz", **{k: v for k, v in arrays.items() if k != "y"})
    other_seed = trace(capsys, tmp_path / "seed1.npz", "--seed", "1")
    short = trace(capsys, tmp_path / "short.npz", "--steps", "10")
    return {
        "not_npz": (text, ["not an .npz file (not a zip archive)"]),
        "pickled": (pickled, ["refused", "allow_pickle=False"]),
        "shapes": (swapped, ["params/dense0/kernel", "(21, 16, 8)", "(21, 8, 16)"]),
        "missing": (missing, ["missing y"]),
        "directory": (tmp_path, ["is a directory"]),
        "no_file": (tmp_path / "absent.npz", ["no such file"]),
        "problem": (other_seed, ["different problems", "initial"]),
        "steps": (short, ["different step counts: 20 vs 10"]),
    }


def test_bad_input_exits_2_with_one_line(capsys, tmp_path):
    cases = bad_inputs(capsys, tmp_path)
    good = tmp_path / "good.npz"
    for name, (path, words) in cases.items():
        code, out, err = run_cli(capsys, "explain", str(good), str(path))
        assert code == 2, name
        assert not out and len(err.strip().splitlines()) == 1, (name, err)
        assert err.startswith("xbench explain: error: "), (name, err)
        for word in words:
            assert word in err, (name, err)
    with pytest.raises(UsageError, match="allow_pickle=False"):  # the Python API too
        explain(cases["pickled"][0], good)


def test_the_python_api_takes_paths_or_trajectories(tmp_path):
    case = case_for("mlp", "sgd", "add_decayed_weights", "float64")
    a, b = ref(case), ref(case.replace(variant="after_lr"))
    path = save_npz(a, tmp_path / "a.npz")
    from_path, from_objects = explain(path, b), explain(a, b)
    assert from_path.best == from_objects.best
    assert from_path.best.fix.startswith("optax: chain add_decayed_weights before the optimizer")
    assert explain(a, a).equal and explain(a, a).exit_code == 0 and explain(a, a).causes == ()


# ----------------------------------------------------------------------------- the docs


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S)


@pytest.fixture
def torch_defaults():
    """The torch recipe sets float64 as torch's default dtype, as a user's script would; the
    tests after this one must not inherit it."""
    import torch

    dtype = torch.get_default_dtype()
    yield
    torch.set_default_dtype(dtype)


def test_the_recipes_record_torch_and_jax_loops_that_explain_reads(
    tmp_path, monkeypatch, capsys, torch_defaults
):
    adapter_class("torch"), adapter_class("jax")
    monkeypatch.chdir(tmp_path)
    torch_block, jax_block, api_block = python_blocks()
    for code in (torch_block, jax_block, api_block):
        exec(compile(code, "explain.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "False 1 dense0/kernel\ncoupling A→B coupled decay (Adam weight_decay)" in printed
    assert printed in PAGE.read_text()  # the page shows the real output
    result = explain("mine-torch.npz", "mine-jax.npz")
    assert result.a_own.equal and not result.b_own.equal and result.best.key == "coupling"
    port = "optax.chain(optax.add_decayed_weights(0.1), optax.adam(0.01))"
    assert port in jax_block
    exec(compile(jax_block.replace(port, "optax.adamw(0.01, weight_decay=0.1)"), "fix", "exec"), {})
    assert explain("mine-torch.npz", "mine-jax.npz").equal  # the recipes record faithfully


def test_the_page_python_blocks_are_ruff_formatted(tmp_path):
    pytest.importorskip("ruff")
    for i, code in enumerate(python_blocks()):
        (tmp_path / f"block{i}.py").write_text(code)
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "--line-length", "100", "."],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
