"""Untrusted text is parsed, never run; untrusted traces never unpickle; oversized requests are
refused up front (docs/robustness.md)."""

import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from xbench.cli import main
from xbench.errors import UsageError
from xbench.jobs import bench
from xbench.jobs.bench import BenchRequest
from xbench.records import machine
from xbench.records.trace import load_npz

HOSTILE = [
    "__import__('os').system('touch MARKER')",
    "torch.optim.SGD(params, lr=__import__('os').system('touch MARKER'))",
    "torch.optim.SGD(params, lr=(lambda: __import__('os').system('touch MARKER'))())",
    "torch.optim.SGD(params, lr=f\"{__import__('os').system('touch MARKER')}\")",
    "torch.optim.SGD(params, lr=(x := __import__('os').system('touch MARKER')))",
    "torch.optim.SGD(params, lr=[__import__('os').system('touch MARKER') for _ in 'a'][0])",
    "().__class__.__bases__[0].__subclasses__()",
    "optax.sgd(open('MARKER', 'w').write('x'))",
    "exec(\"open('MARKER','w')\")",
    "torch.optim.SGD(params, lr=0.1).__class__.__init__.__globals__",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_translate_refuses_hostile_expressions_without_running_them(text, tmp_path, capsys,
                                                                  monkeypatch):  # fmt: skip
    monkeypatch.chdir(tmp_path)
    assert main(["translate", text]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("xbench translate: error:"), err
    assert not (tmp_path / "MARKER").exists()


def test_a_pickled_object_in_a_trace_is_refused_not_loaded(tmp_path):
    path = tmp_path / "evil.npz"
    marker = tmp_path / "MARKER"

    class Boom:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    np.savez(path, framework=np.array([Boom()], dtype=object))
    marker.unlink(missing_ok=True)  # np.savez pickled it; reading it must not open the file
    with pytest.raises(ValueError, match="pickle"):
        load_npz(path)
    done = subprocess.run([sys.executable, "-m", "xbench", "explain", str(path), str(path)],
                          capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not marker.exists()


@pytest.mark.parametrize("flag", [["--steps", "1000000000"], ["--batch-size", "1000000000"]])
def test_a_trace_that_cannot_fit_is_refused_with_the_estimate_and_the_limit(flag, tmp_path,
                                                                          capsys):  # fmt: skip
    out = tmp_path / "t.npz"
    argv = ["trace", "--framework", "reference", "--optimizer", "sgd", "--rule", "none"]
    assert main([*argv, *flag, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "GiB" in err[0] and "the limit is" in err[0], err
    assert not out.exists()
    assert main([*argv, "--steps", "3", "--out", str(out)]) == 0 and out.exists()


def test_a_bench_that_cannot_fit_is_refused_before_it_starts(monkeypatch, tmp_path, capsys):
    """200 MiB available: the default profile's 1e7 benchmarks (about 0.5 GiB of arrays) are
    refused in one line, before pytest starts; the quick profile (up to 1e6) and a -k that
    leaves 1e7 out still run."""
    monkeypatch.setattr(machine, "available_bytes", lambda meminfo=None: 200 * 2**20)
    argv = ["bench", "--results", str(tmp_path / "results"), "--label", "m"]
    assert main([*argv, "--profile", "default"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "the limit is 0.195 GiB" in err[0], err
    assert "benchmarks at 1e7" in err[0] and "0.522 GiB" in err[0] and "--quick" in err[0]
    assert not (tmp_path / "results").exists()
    request = BenchRequest("default", "cpu", 1, tmp_path)
    bench.fits(replace(request, profile="quick"))
    bench.fits(replace(request, select="not 1e7"))  # pytest collects what -k selects
    monkeypatch.setattr(machine, "available_bytes", lambda meminfo=None: 2**30)
    bench.fits(request)  # 1 GiB available is enough


def test_available_memory_reads_meminfo_with_a_fallback(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 100 kB\nMemAvailable:    2048 kB\n")
    assert machine.available_bytes(str(meminfo)) == 2048 * 1024
    assert machine.available_bytes(str(tmp_path / "none")) == machine.memory_bytes()


def test_usage_error_is_what_refusals_raise():
    assert issubclass(UsageError, ValueError)
