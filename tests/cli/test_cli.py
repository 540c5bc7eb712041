"""Command-line contracts: exit codes, one-line errors naming the bad value, the .npz."""

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import adapter_class, run_cli
from xbench.cli import main
from xbench.run.registry import framework_available
from xbench.workloads.cases import Case

TRACE = ["trace", "--framework", "torch", "--steps", "3"]


@pytest.mark.parametrize(
    "argv, named",
    [
        (["--model", "resnet"], ["'resnet'", "mlp_norm"]),
        (["--optimizer", "lamb"], ["'lamb'", "adamw"]),
        (["--rule", "dropout"], ["'dropout'", "elastic_net_loss"]),
        (["--lr", "-0.1"], ["-0.1", "> 0"]),
        (["--lr", "nan"], ["nan", "finite"]),
        (["--lr", "0"], ["lr 0", "> 0"]),
        (["--rule", "l2_loss", "--weight-decay", "-1"], ["-1", ">= 0"]),
        (["--rule", "l2_loss", "--weight-decay", "inf"], ["inf", "finite"]),
        (["--steps", "0"], ["steps 0", "> 0"]),
        (["--steps", "-3"], ["steps -3", "> 0"]),
        (["--dtype", "float16"], ["'float16'", "float32, float64"]),
        (["--device", "tpu"], ["'tpu'", "cpu, cuda"]),
        (["--variant", "sideways"], ["'sideways'", "after_lr"]),
        (["--rule", "none", "--weight-decay", "0.1"], ["0.1", "weight_decay"]),
        (["--steps", "100000000000000000000"], ["GiB", "fewer --steps"]),
        (["--batch-size", "100000000000"], ["GiB", "smaller --batch-size"]),
        (["--optimizer", "rmsprop", "--alpha", "-0.5"], ["alpha -0.5", "[0, 1)"]),
        (["--schedule", "cosine", "--warmup-steps", "3"], ["warmup-steps 3", "warmup_cosine"]),
        (["--schedule", "warmup_cosine", "--warmup-steps", "20"], ["20", "1 to 2"]),
        (["--clip-norm", "0"], ["clip-norm 0.0", "> 0"]),
        (["--clip-norm", "-2"], ["clip-norm -2.0", "> 0"]),
        (["--optimizer", "momentum", "--dampening", "1"], ["dampening 1.0", "[0, 1)"]),
        (["--optimizer", "adam", "--dampening", "0.5"], ["dampening 0.5", "momentum"]),
        (["--optimizer", "adagrad", "--momentum", "0.5"], ["--momentum", "'adagrad'"]),
        (["--optimizer", "sgd", "--beta1", "0.5"], ["--beta1", "adam"]),
        (["--optimizer", "sgd", "--eps", "1e-3"], ["--eps", "'sgd'"]),
        (["--l1-ratio", "0.3"], ["--l1-ratio", "elastic_net_loss"]),
        (["--clip-eps", "0"], ["--clip-eps", "--clip-norm"]),
        (["--mask", "hf"], ["--mask hf", "'none'"]),
        (["--rule", "l2_loss", "--weight-decay", "0.1", "--mask", "all"], ["'all'", "ndim2"]),
        (["--schedule", "step"], ["'step'", "warmup_cosine"]),
        (["--variant", "schedule_early"], ["schedule_early", "schedule"]),
        (
            ["--framework", "jax", "--optimizer", "momentum", "--dampening", "0.5"],
            ["dampening", "optax"],
        ),
    ],
)
def test_bad_case_values_exit_2_with_one_line(capsys, argv, named):
    code, out, err = run_cli(capsys, *TRACE, *argv)
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    for word in named:
        assert word in err


def test_unknown_framework(capsys):
    code, _, err = run_cli(capsys, "trace", "--framework", "mxnet")
    assert code == 2 and "'mxnet'" in err and "torch, jax, reference" in err


@pytest.mark.parametrize(
    "framework, optimizer, rule, says",
    [
        ("jax", "sgd", "weight_decay", "optax.sgd has no weight_decay"),
        ("jax", "adam", "weight_decay", "optax.adam has no weight_decay"),
        ("torch", "adamw", "add_decayed_weights", "no gradient-transform chain"),
    ],
)
def test_inapplicable_combination_says_why_and_what_instead(
    capsys, framework, optimizer, rule, says
):
    argv = ["trace", "--framework", framework, "--optimizer", optimizer, "--rule", rule,
            "--weight-decay", "0.1"]  # fmt: skip
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and says in err and "use rule" in err


def test_cuda_without_cuda_is_refused(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code, _, err = run_cli(capsys, *TRACE, "--device", "cuda")
    assert code == 2 and "cuda" in err and "valid: cpu" in err
    code, _, err = run_cli(capsys, "check", "--device", "cuda", "--model", "linear")
    assert code == 2 and "valid: cpu" in err


def test_reference_refuses_cuda(capsys):
    code, _, err = run_cli(capsys, "trace", "--framework", "reference", "--device", "cuda")
    assert code == 2 and "CPU only" in err


def test_unwritable_out(capsys, tmp_path):
    code, _, err = run_cli(capsys, *TRACE, "--out", str(tmp_path / "missing" / "t.npz"))
    assert code == 2 and "does not exist" in err
    a_file = tmp_path / "file"
    a_file.write_text("")
    code, _, err = run_cli(capsys, *TRACE, "--out", str(a_file / "t.npz"))
    assert code == 2 and "cannot write" in err
    code, _, err = run_cli(capsys, *TRACE, "--out", str(tmp_path))
    assert code == 2 and "is a directory" in err


def test_trace_writes_the_spec_npz_and_never_overwrites(capsys, tmp_path):
    adapter_class("torch")
    out = tmp_path / "t.npz"
    argv = ["trace", "--framework", "torch", "--model", "cnn", "--optimizer", "adamw",
            "--rule", "weight_decay", "--weight-decay", "0.01", "--lr", "0.01", "--steps", "4",
            "--batch-size", "5", "--mask", "--out", str(out)]  # fmt: skip
    code, stdout, _ = run_cli(capsys, *argv)
    assert code == 0 and str(out) in stdout
    with np.load(out) as data:
        assert data["x"].shape == (4, 5, 8, 8, 1) and data["y"].shape == (4, 5, 4)
        assert data["loss"].shape == (4,)
        assert data["params/conv0/kernel"].shape == (5, 3, 3, 1, 4)  # step 0 = initial, HWIO
        case = json.loads(str(data["case"]))
        assert case["optimizer"] == "adamw" and case["mask"] == "kernels" and case["steps"] == 4
        before = data["params/out/kernel"].copy()
    mtime = out.stat().st_mtime_ns
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and "refusing to overwrite" in err
    assert out.stat().st_mtime_ns == mtime
    code, _, _ = run_cli(capsys, *argv, "--overwrite")
    assert code == 0
    with np.load(out) as data:
        np.testing.assert_array_equal(data["params/out/kernel"], before)  # deterministic


def test_trace_matches_run_case(capsys, tmp_path):
    from xbench.records.trace import load_npz
    from xbench.run.registry import run_case

    out = tmp_path / "r.npz"
    code, _, _ = run_cli(capsys, "trace", "--framework", "reference", "--rule", "l1_loss",
                         "--weight-decay", "0.01", "--steps", "3", "--out", str(out))  # fmt: skip
    assert code == 0
    loaded = load_npz(out)
    direct = run_case("reference", Case(rule="l1_loss", weight_decay=0.01, steps=3))
    assert loaded.case == direct.case
    for name in direct.params:
        np.testing.assert_array_equal(loaded.params[name], direct.params[name])


@pytest.mark.parametrize(
    "flag, value", [("--model", "vit"), ("--framework", "mxnet"), ("--dtype", "int8")]
)
def test_check_bad_filters(capsys, flag, value):
    code, _, err = run_cli(capsys, "check", flag, value)
    assert code == 2 and repr(value) in err


@pytest.mark.parametrize("jobs", ["0", "-2"])
def test_check_refuses_fewer_than_one_job(capsys, jobs):
    code, out, err = run_cli(capsys, "check", "--model", "linear", "--jobs", jobs)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert f"--jobs {jobs}" in err and ">= 1" in err


def test_check_list_and_a_filtered_run(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "check", "--model", "linear", "--list")
    assert code == 0 and "linear-adamw-weight_decay-torch-vs-jax-float64" in out
    if not (framework_available("torch") and framework_available("jax")):
        pytest.skip("needs torch and jax")
    report = tmp_path / "check.json"
    argv = ["check", "--model", "linear", "--jobs", "1", "--json", str(report)]
    code, out, _ = run_cli(capsys, *argv)
    assert code == 0 and "0 failed" in out
    doc = json.loads(report.read_text())
    assert all(e["held"] for e in doc["entries"]) and len(doc["entries"]) >= 8
    code, _, err = run_cli(capsys, "check", "--model", "linear", "--json", str(report))
    assert code == 2 and "refusing to overwrite" in err
    assert doc["machine_info"]["device"] == "cpu" and "torch" in doc["machine_info"]["versions"]
    assert set(doc["machine_info"]["git_commit"]) == {"id", "dirty"}


def test_check_publish_adds_a_new_file_each_time(capsys, tmp_path, monkeypatch):
    import xbench.jobs.check as check_job

    if not framework_available("torch"):
        pytest.skip("needs torch")
    small = [e for e in check_job.default_catalogue() if e.name.startswith("linear-adamw")]
    monkeypatch.setattr(check_job, "default_catalogue", lambda: small)  # the whole catalogue
    argv = ["check", "--publish", "--results", str(tmp_path), "--label", "box", "--jobs", "1"]
    for _ in range(2):
        code, out, _ = run_cli(capsys, *argv)
        assert code == 0
    assert not (tmp_path / "box").exists()  # checks live apart from the bench runs
    published = sorted((tmp_path / "checks" / "box").glob("*_check_*.json"))
    assert len(published) == 2  # the second run did not replace the first
    assert all(len(json.loads(p.read_text())["entries"]) == len(small) for p in published)


@pytest.mark.parametrize("flag", ["--model", "--framework", "--dtype"])
def test_a_filtered_check_is_never_published(capsys, tmp_path, flag):
    value = {"--model": "linear", "--framework": "torch", "--dtype": "float64"}[flag]
    argv = ["check", flag, value, "--publish", "--results", str(tmp_path), "--label", "box"]
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == "" and "whole catalogue only" in err
    assert not (tmp_path / "box").exists()


def test_check_exits_1_when_an_expectation_fails(capsys, monkeypatch):
    import dataclasses

    import xbench.jobs.check as check_job
    from xbench.workloads import catalogue

    if not framework_available("torch"):
        pytest.skip("needs torch")
    real = catalogue.default_catalogue

    def flipped():
        entries = [
            e for e in real() if e.name == "linear-adamw-weight_decay-torch-vs-reference-float64"
        ]
        return [dataclasses.replace(entries[0], expect_equal=False, reason="deliberately wrong")]

    monkeypatch.setattr(check_job, "default_catalogue", flipped)
    code, out, _ = run_cli(capsys, "check", "--jobs", "1")
    assert code == 1 and "expected a difference, found none" in out


def test_python_m_xbench_has_no_traceback_for_user_errors():
    proc = subprocess.run([sys.executable, "-m", "xbench", "trace", "--framework", "torch",
                           "--model", "nope"], capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 2
    assert (
        proc.stderr.strip() == "xbench trace: error: unknown model 'nope'; "
        "valid: linear, mlp, mlp_digits, mlp_norm, mlp_bn, mlp_digits_bn, cnn, transformer"
    )
    assert (
        subprocess.run([sys.executable, "-m", "xbench", "--help"], capture_output=True).returncode
        == 0
    )


@pytest.mark.parametrize("command", ["ab", "compare", "bench", "check", "report", "study", "trace"])
def test_every_command_prints_its_help(capsys, command):
    """argparse %-formats help strings: a bare % in one (``1% with``) crashed --help."""
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    assert "usage: xbench" in capsys.readouterr().out
