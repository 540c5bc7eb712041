"""Batch norm: each framework's conventions read back from the installed libraries, the JAX
adapter's BatchNorm held to flax.linen.BatchNorm, the running statistics and the evaluation
output recorded and compared, and the settings validated."""

import importlib.util

import numpy as np
import pytest
from xbench_adapters import reference

from tests.helpers import adapter_class, run_cli
from xbench.errors import UsageError
from xbench.records.trace import load_npz, save_npz
from xbench.run.equivalence import FLOAT64_TOLERANCE, compare
from xbench.run.registry import run_case
from xbench.workloads.cases import Case, not_applicable_reason, running_stat_weight
from xbench.workloads.models import BATCH_NORM_EPS, MODELS
from xbench.workloads.problems import make_problem

BN = Case(model="mlp_bn", optimizer="sgd", rule="add_decayed_weights", weight_decay=0.1)


def batch(seed=0, n=16, features=5, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return (rng.normal(1.0, 2.0, size=(n, features))).astype(dtype)


def reference_running(x, momentum, unbiased, steps=1):
    """The reference's running statistics after ``steps`` training passes over ``x``."""
    case = BN.replace(bn_momentum=momentum, bn_running_var="unbiased" if unbiased else "biased")
    running = {"bn/running_mean": np.zeros(x.shape[1]), "bn/running_var": np.ones(x.shape[1])}
    for _ in range(steps):
        _, _, mean, var = reference.batch_norm(x, np.ones(x.shape[1]), np.zeros(x.shape[1]))
        reference.running_update(case, running, "bn", mean, var, x.shape[0])
    return running["bn/running_mean"], running["bn/running_var"]


# ---------------------------------------------------------------- torch's conventions


def test_torch_batchnorm1d_moves_towards_the_batch_by_momentum_with_the_unbiased_variance():
    import torch

    bn = torch.nn.BatchNorm1d(5).double()
    assert (bn.momentum, bn.eps) == (0.1, BATCH_NORM_EPS) == (Case().bn_momentum, 1e-5)
    x = batch()
    bn.train()
    out = bn(torch.tensor(x)).detach().numpy()
    mean, var = reference_running(x, 0.1, unbiased=True)
    np.testing.assert_allclose(bn.running_mean.numpy(), mean, rtol=1e-15)
    np.testing.assert_allclose(bn.running_var.numpy(), var, rtol=1e-15)
    biased = reference_running(x, 0.1, unbiased=False)[1]
    assert np.abs(bn.running_var.numpy() - biased).min() > 1e-3  # not the biased variance
    # ... yet it normalises the batch with the biased one
    expected = reference.batch_norm(x, np.ones(5), np.zeros(5))[0]
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------- Flax's conventions

# Flax comes with xbench[dev] (make install); an interpreter without it skips these tests
needs_flax = pytest.mark.skipif(
    importlib.util.find_spec("flax") is None, reason="flax is not installed (xbench[dev])"
)


def flax_bn(momentum, x, **options):
    """flax.linen.BatchNorm as its users call it, training mode: (output, batch_stats after)."""
    adapter_class("jax")  # the JAX adapter turns on float64 (jax_enable_x64)
    import flax.linen as nn
    import jax
    import jax.numpy as jnp

    module = nn.BatchNorm(
        use_running_average=False, momentum=momentum, param_dtype=x.dtype, **options
    )
    variables = module.init(jax.random.PRNGKey(0), jnp.asarray(x))
    out, changed = module.apply(variables, jnp.asarray(x), mutable=["batch_stats"])
    return np.asarray(out), changed["batch_stats"]


@needs_flax
def test_flax_batchnorm_keeps_momentum_of_the_running_average_and_the_biased_variance():
    import inspect

    import flax.linen as nn

    defaults = inspect.signature(nn.BatchNorm).parameters
    assert defaults["momentum"].default == 0.99 and defaults["epsilon"].default == BATCH_NORM_EPS
    x = batch()
    _, stats = flax_bn(0.99, x, force_float32_reductions=False)  # float64 statistics
    # Flax's 0.99 keeps 0.99 of the running value: torch's momentum 0.01, biased variance
    mean, var = reference_running(x, 1 - 0.99, unbiased=False)
    np.testing.assert_allclose(np.asarray(stats["mean"]), mean, rtol=1e-13)
    np.testing.assert_allclose(np.asarray(stats["var"]), var, rtol=1e-13)
    # torch's momentum=0.1 passed to Flax verbatim: 0.9 of the batch, not 0.1
    _, verbatim = flax_bn(0.1, x, force_float32_reductions=False)
    case = BN.replace(variant="bn_momentum_verbatim")
    assert running_stat_weight(case) == pytest.approx(0.9)
    np.testing.assert_allclose(
        np.asarray(verbatim["mean"]), reference_running(x, 0.9, False)[0], rtol=1e-13
    )


@needs_flax
def test_flax_starts_its_statistics_in_float32_even_with_x64():
    """Flax's default force_float32_reductions makes batch_stats float32 at init: the first
    update's ρ·1 rounds to float32 (ρ = 0.9: 2.4e-8 off), so a float64 port sets it False."""
    x = batch()
    _, stock = flax_bn(0.9, x)
    _, float64 = flax_bn(0.9, x, force_float32_reductions=False)
    mean, var = reference_running(x, 0.1, unbiased=False)
    np.testing.assert_allclose(np.asarray(float64["var"]), var, rtol=1e-15)
    np.testing.assert_allclose(np.asarray(stock["mean"]), mean, rtol=1e-15)  # ρ·0 is exact
    rounding = float(np.float32(0.9)) - 0.9
    np.testing.assert_allclose(np.asarray(stock["var"]) - var, rounding, rtol=1e-6)
    assert abs(rounding) > 1e-8


@needs_flax
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_jax_adapters_batch_norm_is_flaxs_bit_for_bit(dtype):
    """Training output, statistics after, gradients, and evaluation output."""
    import jax
    import jax.numpy as jnp
    from xbench_adapters.jax_adapter import BatchNormSettings, batch_norm

    x = batch(dtype=dtype)
    rng = np.random.default_rng(3)
    scale, bias = (rng.normal(size=5).astype(dtype) for _ in range(2))
    settings = BatchNormSettings(flax_momentum=0.9, unbiased=False)
    start = {"running_mean": jnp.zeros(5, dtype), "running_var": jnp.ones(5, dtype)}

    def ours(p, x):
        out, stats = batch_norm(x, p, start, settings)
        return jnp.sum(jnp.sin(out)), (out, stats)

    def theirs(p, x):
        import flax.linen as nn

        module = nn.BatchNorm(use_running_average=False, momentum=0.9, param_dtype=dtype)
        variables = {"params": p, "batch_stats": {"mean": start["running_mean"],
                                                  "var": start["running_var"]}}  # fmt: skip
        out, changed = module.apply(variables, x, mutable=["batch_stats"])
        return jnp.sum(jnp.sin(out)), (out, changed["batch_stats"])

    p = {"scale": jnp.asarray(scale), "bias": jnp.asarray(bias)}
    grad = jax.jit(jax.grad(ours, argnums=(0, 1), has_aux=True))
    grad_flax = jax.jit(jax.grad(theirs, argnums=(0, 1), has_aux=True))
    (gp, gx), (out, stats) = grad(p, jnp.asarray(x))
    (fp, fx), (f_out, f_stats) = grad_flax(p, jnp.asarray(x))
    for a, b in ((out, f_out), (stats["running_mean"], f_stats["mean"]),
                 (stats["running_var"], f_stats["var"]), (gp["scale"], fp["scale"]),
                 (gp["bias"], fp["bias"]), (gx, fx)):  # fmt: skip
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    import flax.linen as nn

    evaluated, _ = batch_norm(jnp.asarray(x), p, stats, None)
    f_eval = nn.BatchNorm(use_running_average=True, param_dtype=dtype).apply(
        {"params": p, "batch_stats": f_stats}, jnp.asarray(x)
    )
    np.testing.assert_array_equal(np.asarray(evaluated), np.asarray(f_eval))


@needs_flax
def test_the_flax_comparison_catches_torchs_variance_in_the_jax_batch_norm():
    """Must fail: the torch convention (unbiased running variance) is not Flax's."""
    import jax.numpy as jnp
    from xbench_adapters.jax_adapter import BatchNormSettings, batch_norm

    x = batch()
    start = {"running_mean": jnp.zeros(5), "running_var": jnp.ones(5)}
    p = {"scale": jnp.ones(5), "bias": jnp.zeros(5)}
    _, stats = batch_norm(jnp.asarray(x), p, start, BatchNormSettings(0.9, unbiased=True))
    _, f_stats = flax_bn(0.9, x)
    np.testing.assert_array_equal(np.asarray(stats["running_mean"]), np.asarray(f_stats["mean"]))
    assert not np.allclose(np.asarray(stats["running_var"]), np.asarray(f_stats["var"]), rtol=1e-3)


# ---------------------------------------------------------------- trajectories


def test_trajectories_record_the_statistics_and_the_evaluation_output():
    case = BN.replace(steps=4)
    t = run_case("reference", case)
    assert sorted(t.stats) == [
        f"bn{i}/{s}" for i in (0, 1) for s in ("running_mean", "running_var")
    ]
    assert t.stats["bn0/running_var"].shape == (5, 16)
    np.testing.assert_array_equal(t.stats["bn0/running_mean"][0], 0.0)
    np.testing.assert_array_equal(t.stats["bn0/running_var"][0], 1.0)
    assert np.all(np.diff(t.stats["bn0/running_mean"], axis=0) != 0)  # moved at every step
    problem = make_problem(case)
    assert problem.x_eval.shape == (16, 8)
    final = {n: v[-1] for n, v in t.params.items()}
    stats = {n: v[-1] for n, v in t.stats.items()}
    np.testing.assert_array_equal(
        t.evaluation,
        reference.ReferenceAdapter.outputs(problem.model, final, problem.x_eval, stats),
    )
    # evaluation mode is not training mode: the running statistics are not the batch's
    training = reference.forward(problem.model, final, problem.x_eval)[0]
    assert np.abs(training - t.evaluation).max() > 1e-2


def test_models_without_batch_norm_have_neither():
    t = run_case("reference", Case(model="mlp", steps=2))
    assert t.stats == {} and t.evaluation is None
    assert make_problem(Case(model="mlp")).x_eval is None


def test_a_difference_only_in_evaluation_is_caught_at_the_last_step():
    a = run_case("reference", BN.replace(steps=3))
    shifted = a.evaluation.copy()
    shifted[0, 0] += 1e-6
    b = type(a)(**{**a.__dict__, "evaluation": shifted})
    found = compare(b, a, FLOAT64_TOLERANCE)
    assert (found.first_divergent_step, found.tensor) == (3, "evaluation")
    nan = a.evaluation.copy()
    nan[0, 0] = np.nan
    assert compare(type(a)(**{**a.__dict__, "evaluation": nan}), a, FLOAT64_TOLERANCE).diverged_step


def test_trace_files_keep_statistics_and_evaluation(tmp_path):
    t = run_case("reference", BN.replace(steps=2))
    back = load_npz(save_npz(t, tmp_path / "bn.npz"))
    assert back.stats.keys() == t.stats.keys()
    for name in t.stats:
        np.testing.assert_array_equal(back.stats[name], t.stats[name])
    np.testing.assert_array_equal(back.evaluation, t.evaluation)
    np.testing.assert_array_equal(back.x_eval, make_problem(BN.replace(steps=2)).x_eval)
    assert compare(back, t, FLOAT64_TOLERANCE).equal


@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_each_frameworks_statistics_match_the_reference(framework):
    case = BN.replace(steps=3, rule="weight_decay" if framework == "torch" else BN.rule)
    ours = run_case(framework, case)
    ref = run_case("reference", case)
    found = compare(ours, ref, FLOAT64_TOLERANCE)
    assert found.equal, found.describe()
    for name in ref.stats:
        np.testing.assert_allclose(ours.stats[name], ref.stats[name], rtol=1e-12, err_msg=name)


def test_norm_parameters_follow_the_mask_and_statistics_are_never_decayed():
    for mask, decayed in (("", {"bn0/scale", "bn0/bias", "bn1/scale", "bn1/bias"}),
                          ("hf", set()), ("kernels", set())):  # fmt: skip
        case = BN.replace(mask=mask)
        names = adapter_class("jax")(make_problem(case), case).decayed_names()
        assert {n for n in names if n.startswith("bn")} == decayed
        assert not any("running" in n for n in names)
    assert "dense0/bias" not in MODELS["mlp_bn"].param_shapes()  # no bias before a norm


# ---------------------------------------------------------------- settings


def test_batch_norm_settings_are_validated():
    with pytest.raises(UsageError, match="bn-momentum applies to a model with batch norm"):
        Case(model="mlp", bn_momentum=0.2)
    with pytest.raises(UsageError, match="variant 'bn_momentum_verbatim' applies to a model"):
        Case(model="mlp", variant="bn_momentum_verbatim")
    for bad in (0.0, 1.5, float("nan")):
        with pytest.raises(UsageError, match="invalid bn-momentum"):
            Case(model="mlp_bn", bn_momentum=bad)
    with pytest.raises(UsageError, match="unknown bn-running-var 'sample'; valid: unbiased"):
        Case(model="mlp_bn", bn_running_var="sample")
    biased = BN.replace(bn_running_var="biased")
    assert "unbiased batch variance" in not_applicable_reason("torch", biased)
    assert not_applicable_reason("jax", biased) is None
    assert not_applicable_reason("torch", BN.replace(variant="bn_momentum_verbatim"))
    assert BN.replace(bn_running_var="biased", bn_momentum=0.5).label.endswith(
        "bn_momentum0.5-bn_biased_var"
    )


def test_cli_takes_the_batch_norm_flags(tmp_path, capsys):
    out = tmp_path / "t.npz"
    code, _, err = run_cli(capsys, "trace", "--framework", "reference", "--model", "mlp_bn",
                           "--bn-momentum", "0.2", "--bn-running-var", "biased", "--steps", "3",
                           "--out", str(out))  # fmt: skip
    assert code == 0, err
    saved = load_npz(out)
    assert (saved.case.bn_momentum, saved.case.bn_running_var) == (0.2, "biased")
    assert saved.evaluation is not None and len(saved.stats) == 4
    code, _, err = run_cli(capsys, "trace", "--framework", "reference", "--model", "mlp",
                           "--bn-momentum", "0.2", "--out", str(tmp_path / "no.npz"))  # fmt: skip
    assert code == 2 and "model with batch norm" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "no.npz").exists()
    for flags, message in (
        (["--model", "mlp", "--bn-momentum", "0.1"], "model with batch norm"),  # the default
        (["--model", "mlp", "--bn-running-var", "unbiased"], "model with batch norm"),
        (["--model", "mlp_bn", "--batch-size", "1"], "batch norm needs 2 or more examples"),
        (["--model", "mlp_bn", "--bn-momentum", "0"], "invalid bn-momentum 0.0"),
    ):
        code, _, err = run_cli(capsys, "trace", "--framework", "torch", *flags,
                               "--out", str(tmp_path / "no.npz"))  # fmt: skip
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, flags
        assert not (tmp_path / "no.npz").exists()
    biased = ["--model", "mlp_bn", "--bn-running-var", "biased"]
    code, _, err = run_cli(capsys, "trace", "--framework", "torch", *biased,
                           "--out", str(tmp_path / "no.npz"))  # fmt: skip
    assert code == 2 and "torch cannot run mlp_bn-sgd-none-bn_biased_var" in err


def test_finite_differences_catch_a_batch_norm_backward_over_the_wrong_axis(monkeypatch):
    """Must fail: normalising the gradient over features (LayerNorm's axis) instead of the
    batch gives a dense kernel gradient the loss itself contradicts."""
    from tests.helpers import numeric_gradient

    problem = make_problem(BN)
    x, y = problem.x[0], problem.y[0]
    name, index = "dense0/kernel", (2, 3)
    numeric = numeric_gradient(problem, name, index)
    right = reference.loss_and_grads(problem.model, problem.params, x, y)[1][name][index]
    assert right == pytest.approx(numeric, rel=1e-5)
    real = reference.layer_norm_backward
    monkeypatch.setattr(
        reference, "layer_norm_backward", lambda saved, scale, d, axis=-1: real(saved, scale, d)
    )
    wrong = reference.loss_and_grads(problem.model, problem.params, x, y)[1][name][index]
    assert wrong != pytest.approx(numeric, rel=1e-2)
