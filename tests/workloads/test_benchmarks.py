"""What the timed sweep holds, bytes per step, rounds, and the roofline arithmetic."""

import pytest

from xbench.errors import UsageError
from xbench.records.bench_run import case_info
from xbench.records.bench_run import finish as annotate
from xbench.run.timing import rounds_and_iterations
from xbench.workloads.benchmarks import (
    BENCH_OPTIMIZERS,
    BENCH_RULES,
    IMPLEMENTATIONS,
    MANY,
    REFERENCE_KERNELS,
    SIZES,
    SWEEP_PROFILES,
    BenchCase,
    bytes_per_param,
    sweep,
    vectors,
    wide_mlp,
)


@pytest.mark.parametrize(
    "optimizer, itemsize, expected",
    [("sgd", 4, 12), ("momentum", 4, 20), ("adam", 4, 28), ("adamw", 4, 28), ("adamw", 8, 56)],
)
def test_bytes_per_param(optimizer, itemsize, expected):
    """sgd: r w,g w w; momentum: + r/w buffer; Adam: r w,g,m,v w w,m,v (AdamW fp32: 28)."""
    assert bytes_per_param(optimizer, itemsize) == expected


@pytest.mark.parametrize("params", SIZES)
def test_wide_mlp_hits_the_parameter_count(params):
    assert abs(wide_mlp(params).parameter_count() - params) / params < 0.05


@pytest.mark.parametrize("params, tensors", [(10**3, 1), (10**4, MANY), (10**6 + 7, MANY)])
def test_vectors_split_exactly(params, tensors):
    shapes = vectors(params, tensors).param_shapes()
    assert len(shapes) == tensors
    assert sum(s[0] for s in shapes.values()) == params
    assert max(s[0] for s in shapes.values()) - min(s[0] for s in shapes.values()) <= 1


@pytest.mark.parametrize("profile", sorted(SWEEP_PROFILES))
def test_every_profile_covers_every_kind_and_implementation(profile):
    cases = sweep(profile)
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "benchmark ids must be unique"
    timed = {(c.framework, c.implementation) for c in cases if c.kind == "update"}
    assert timed == {(fw, impl) for fw, impls in IMPLEMENTATIONS.items() for impl in impls}
    assert {c.kind for c in cases} == {"reference", "update", "train"}
    assert {c.implementation for c in cases if c.kind == "reference"} == set(REFERENCE_KERNELS)
    assert {c.tensors for c in cases if c.kind == "update"} == {1, MANY}
    train = {(c.optimizer, c.rule) for c in cases if c.kind == "train"}
    assert {("sgd", "weight_decay"), ("sgd", "l2_loss"), ("adam", "l2_loss")} <= train
    assert all(c.not_applicable() is None for c in cases if c.kind != "reference")
    reference_sizes = {c.params for c in cases if c.kind == "reference"}
    assert {c.params for c in cases} <= reference_sizes, "every size has its own reference"


def test_default_profile_sweeps_every_size_optimizer_and_rule():
    cases = sweep("default")
    for kind in ("update", "train"):
        assert {c.params for c in cases if c.kind == kind} == set(SIZES)
        assert {c.optimizer for c in cases if c.kind == kind} == set(BENCH_OPTIMIZERS)
    assert {c.rule for c in cases if c.kind == "train"} == set(BENCH_RULES)
    assert {c.rule for c in cases if c.kind == "update"} == set(BENCH_RULES) - {"l2_loss"}


def test_applicability_follows_the_frameworks():
    assert BenchCase("update", "jax", "jit", "adam", "weight_decay").not_applicable()
    assert BenchCase("update", "torch", "fused", "sgd", "add_decayed_weights").not_applicable()
    assert (
        "training step" in BenchCase("update", "torch", "fused", "sgd", "l2_loss").not_applicable()
    )
    assert BenchCase("train", "torch", "fused", "sgd", "l2_loss").not_applicable() is None
    assert BenchCase("update", "jax", "jit", "adamw", "weight_decay").not_applicable() is None


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"kind": "nope"}, "unknown benchmark kind"),
        ({"kind": "update", "framework": "torch", "implementation": "jit"}, "valid: forloop"),
        ({"kind": "update", "framework": "jax", "implementation": "fused"}, "valid: jit"),
        ({"kind": "reference", "implementation": "memset"}, "valid: copy, inplace_add"),
        ({"kind": "update", "framework": "torch", "implementation": "fused", "params": 10,
          "tensors": 1000}, "cannot fill"),
    ],
)  # fmt: skip
def test_bad_bench_case_is_a_usage_error(fields, message):
    with pytest.raises(UsageError, match=message):
        BenchCase(**fields)


def test_ids_are_readable():
    case = BenchCase("update", "torch", "fused", "adamw", "weight_decay", 10**6, MANY)
    assert case.id == "update-adamw-weight_decay-torch-fused-1e6-x1000"
    assert BenchCase("reference", implementation="copy", params=10**4).id == (
        "reference-copy-1e4-one-cpu"
    )


@pytest.mark.parametrize(
    "seconds, iterations, at_least_rounds",
    [(20e-6, 100, 5), (1e-4, 20, 5), (50e-3, 1, 5), (1e-9, 2_000_000, 5)],
)
def test_short_steps_run_many_iterations_per_round(seconds, iterations, at_least_rounds):
    rounds, its = rounds_and_iterations(seconds, budget=0.3)
    assert its == iterations
    assert rounds >= at_least_rounds
    assert its * seconds >= 2e-3 or its == 1


def result(kind, median, params=10**6, implementation="fused", device="cpu", optimizer="adamw"):
    case = BenchCase(
        kind,
        "" if kind == "reference" else "torch",
        implementation,
        "" if kind == "reference" else optimizer,
        "" if kind == "reference" else "weight_decay",
        params,
        device=device,
    )
    return {"extra_info": case_info(case), "stats": {"median": median}}


def test_roofline_uses_the_faster_reference_kernel_at_the_same_size():
    copy = result("reference", 1e-3, implementation="copy")  # 28 MB in 1 ms: 28 GB/s
    add = result("reference", 0.5e-3, implementation="inplace_add")  # 56 GB/s
    far = result("reference", 1e-6, params=10**3, implementation="inplace_add")
    update = result("update", 1e-3)  # 28 GB/s
    annotate({"benchmarks": [copy, add, far, update]})
    info = update["extra_info"]
    assert info["achieved_GBps"] == pytest.approx(28.0)
    assert info["reference_GBps"] == pytest.approx(56.0, rel=1e-6)
    assert info["reference_kernel"] == "inplace_add"
    assert info["bandwidth_pct"] == pytest.approx(50.0)


def test_roofline_falls_back_to_the_nearest_size_and_never_crosses_devices():
    near = result("reference", 1e-4, params=10**5, implementation="copy")
    cpu_update = result("update", 1e-3, params=10**6)
    gpu_update = result("update", 1e-3, params=10**6, device="cuda")
    document = annotate({"benchmarks": [near, cpu_update, gpu_update]})
    assert cpu_update["extra_info"]["reference_params"] == 10**5
    assert gpu_update["extra_info"]["bandwidth_pct"] is None
    assert set(document["machine_info"]["measured_bandwidth_GBps"]) == {"cpu"}


def test_roofline_halves_when_the_step_takes_twice_as_long():
    reference = result("reference", 1e-3, implementation="copy")
    fast, slow = result("update", 1e-3), result("update", 2e-3)
    annotate({"benchmarks": [reference, fast, slow]})
    assert fast["extra_info"]["bandwidth_pct"] == pytest.approx(100.0)
    assert slow["extra_info"]["bandwidth_pct"] == pytest.approx(50.0)


def test_roofline_prefers_the_adjacent_kernel_of_the_same_benchmark():
    standalone = result("reference", 1e-3, implementation="inplace_add")  # 28 GB/s
    update = result("update", 1e-3)  # 28 GB/s
    update["extra_info"]["adjacent_reference"] = {
        "kernel": "inplace_add", "bytes_moved": 28 * 10**6, "median": 0.25e-3,
    }  # fmt: skip
    annotate({"benchmarks": [standalone, update]})
    assert update["extra_info"]["reference_GBps"] == pytest.approx(112.0)
    assert update["extra_info"]["bandwidth_pct"] == pytest.approx(25.0)
    assert update["extra_info"]["reference_kernel"] == "inplace_add (adjacent)"
