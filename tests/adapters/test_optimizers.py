"""RMSprop, Adagrad, dampening, schedules and clipping: each convention that the catalogue's
reasons name is checked here against the installed libraries, and every bad value or
inapplicable combination is refused in one line naming it."""

import numpy as np
import pytest

from tests.helpers import adapter_class
from xbench.errors import UsageError
from xbench.workloads.cases import EPOCH_STEPS, Case, not_applicable_reason
from xbench.workloads.problems import make_problem
from xbench.workloads.schedules import factor, lr_at


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"optimizer": "rmsprop", "alpha": -0.1}, ["alpha", "-0.1", "[0, 1)"]),
        ({"optimizer": "rmsprop", "alpha": 1.0}, ["alpha", "1.0", "[0, 1)"]),
        ({"optimizer": "momentum", "dampening": 1.0}, ["dampening", "1.0", "[0, 1)"]),
        ({"optimizer": "sgd", "dampening": 0.5}, ["dampening", "momentum", "'sgd'"]),
        ({"optimizer": "adam", "centered": True}, ["centered", "rmsprop"]),
        ({"optimizer": "sgd", "initial_accumulator": 0.1}, ["initial-accumulator", "adagrad"]),
        ({"optimizer": "adagrad", "initial_accumulator": -1.0}, ["initial-accumulator", "-1"]),
        ({"optimizer": "adam", "eps_in_sqrt": True}, ["eps-in-sqrt", "rmsprop or adagrad"]),
        ({"schedule": "exp"}, ["schedule", "'exp'", "warmup_cosine"]),
        ({"schedule": "warmup_cosine", "warmup_steps": 20}, ["warmup-steps", "20", "1 to 19"]),
        ({"schedule": "warmup_cosine"}, ["warmup-steps", "0", "1 to 19"]),
        ({"schedule": "cosine", "warmup_steps": 3}, ["warmup-steps", "warmup_cosine"]),
        ({"clip_norm": 0.0}, ["clip-norm", "0.0", "> 0"]),
        ({"clip_norm": float("nan")}, ["clip-norm", "nan"]),
        ({"mask": "everything"}, ["mask", "'everything'", "hf", "ndim2"]),
        ({"variant": "schedule_early"}, ["schedule_early", "needs a schedule"]),
        ({"schedule": "cosine", "variant": "schedule_per_epoch", "steps": 12}, ["multiples", "12"]),
        ({"rule": "add_decayed_weights", "weight_decay": 0.1, "variant": "decay_before_clip"},
         ["decay_before_clip", "--clip-norm"]),
        ({"optimizer": "adam", "variant": "optax_defaults"}, ["optax_defaults", "rmsprop"]),
        ({"optimizer": "rmsprop", "variant": "optax_defaults"}, ["--alpha 0.9", "--eps-in-sqrt"]),
        ({"optimizer": "adagrad", "rule": "l1_prox", "weight_decay": 0.1, "lr_decay": 0.1},
         ["l1_prox", "lr-decay"]),
        ({"steps": 1, "schedule": "warmup_cosine"}, ["warmup-steps", "at least 2 steps"]),
        ({"rule": "l1_prox", "weight_decay": 0.1, "schedule": "linear"}, ["l1_prox", "constant"]),
    ],
)  # fmt: skip
def test_bad_values_are_refused_naming_the_value_and_the_valid_ones(changes, words):
    with pytest.raises(UsageError) as caught:
        Case(**changes)
    message = str(caught.value)
    assert "\n" not in message
    for word in words:
        assert word in message, (word, message)


@pytest.mark.parametrize(
    "framework, changes, words",
    [
        ("jax", {"optimizer": "momentum", "dampening": 0.5}, ["no dampening"]),
        ("jax", {"optimizer": "adagrad", "lr_decay": 0.1, "eps_in_sqrt": True}, ["lr_decay"]),
        ("jax", {"optimizer": "adagrad"}, ["inside the square root", "--eps-in-sqrt"]),
        ("jax", {"optimizer": "adagrad", "rule": "add_decayed_weights", "weight_decay": 0.1,
                 "variant": "after_lr"}, ["--eps-in-sqrt"]),
        ("jax", {"clip_norm": 1.0}, ["c/‖g‖", "--clip-eps 0"]),
        ("jax", {"schedule": "cosine", "variant": "schedule_early"}, ["step count"]),
        ("jax", {"optimizer": "rmsprop", "rule": "weight_decay", "weight_decay": 0.1},
         ["optax.rmsprop has no weight_decay"]),
        ("jax", {"optimizer": "adam", "rule": "weight_decay", "weight_decay": 0.1,
                 "variant": "decoupled"}, ["adamw"]),
        ("torch", {"optimizer": "rmsprop", "eps_in_sqrt": True}, ["outside the square root"]),
        ("torch", {"clip_norm": 1.0, "clip_eps": 0.0}, ["1e-6", "--clip-eps 1e-6"]),
        ("torch", {"optimizer": "adagrad", "variant": "optax_defaults", "eps": 1e-7,
                   "eps_in_sqrt": True, "initial_accumulator": 0.1}, ["optax's"]),
    ],
)  # fmt: skip
def test_what_a_framework_cannot_express_is_refused_with_the_reason(framework, changes, words):
    reason = not_applicable_reason(framework, Case(**changes))
    assert reason is not None
    for word in words:
        assert word in reason, (word, reason)


def test_what_each_framework_can_express_is_accepted():
    ok = [
        ("torch", Case(optimizer="momentum", dampening=0.5)),
        ("torch", Case(optimizer="adagrad", lr_decay=0.1)),
        ("jax", Case(optimizer="adagrad", eps_in_sqrt=True)),
        ("jax", Case(optimizer="rmsprop", eps_in_sqrt=True, centered=True)),
        ("jax", Case(clip_norm=1.0, clip_eps=0.0)),
        ("torch", Case(clip_norm=1.0)),
        ("reference", Case(optimizer="adagrad", eps_in_sqrt=True, clip_norm=1.0, clip_eps=0.0)),
    ]
    for framework, case in ok:
        assert not_applicable_reason(framework, case) is None, (framework, case.label)


def test_defaults_follow_torch_per_optimizer():
    assert Case(optimizer="rmsprop").momentum == 0.0 and Case(optimizer="momentum").momentum == 0.9
    assert Case(optimizer="adagrad").eps == 1e-10 and Case(optimizer="adam").eps == 1e-8
    assert Case(optimizer="rmsprop", momentum=0.5).momentum == 0.5  # given values stay


def test_records_written_before_mask_conventions_still_load():
    assert Case(mask=True).mask == "kernels" and Case(mask=False).mask == ""
    assert Case.from_json(Case(mask="hf").to_json()).mask == "hf"


# ---------------------------------------------------------------- schedules


@pytest.mark.parametrize("schedule", ["linear", "cosine", "warmup_cosine"])
@pytest.mark.parametrize("variant", ["", "schedule_per_epoch"])
def test_torch_schedulers_give_the_formulas_rates(schedule, variant):
    case = Case(schedule=schedule, warmup_steps=5 if schedule == "warmup_cosine" else 0)
    case = case.replace(variant=variant)
    adapter = adapter_class("torch")(make_problem(case), case)
    for t in range(case.steps):
        assert adapter.optimizer.param_groups[0]["lr"] == pytest.approx(lr_at(case, t), 1e-14)
        adapter.step(t)


def test_the_per_epoch_scheduler_holds_the_rate_for_an_epoch():
    case = Case(schedule="linear", variant="schedule_per_epoch")
    rates = [lr_at(case, t) for t in range(case.steps)]
    assert rates[:EPOCH_STEPS] == [case.lr] * EPOCH_STEPS
    assert rates[EPOCH_STEPS] == pytest.approx(case.lr * factor("linear", EPOCH_STEPS, 20))
    early = case.replace(variant="schedule_early")
    assert lr_at(early, 0) == pytest.approx(case.lr * factor("linear", 1, 20))


@pytest.mark.parametrize("schedule", ["linear", "cosine", "warmup_cosine"])
def test_optax_schedules_are_the_formulas(schedule):
    adapter_class("jax")
    import jax.numpy as jnp
    from xbench_adapters.jax_adapter import learning_rate

    case = Case(schedule=schedule, warmup_steps=5 if schedule == "warmup_cosine" else 0)
    optax_schedule = learning_rate(case)
    for t in range(case.steps):
        value = float(optax_schedule(jnp.asarray(t, jnp.int32)))
        assert value == pytest.approx(lr_at(case, t), rel=1e-6, abs=1e-12)


def test_optax_computes_linear_and_warmup_rates_in_float32_even_with_x64():
    """The reason the catalogue gives for JAX's float64 differences under these schedules."""
    adapter_class("jax")
    import jax.numpy as jnp
    from xbench_adapters.jax_adapter import learning_rate

    count = jnp.asarray(1, jnp.int32)
    linear = learning_rate(Case(schedule="linear"))(count)
    warmup = learning_rate(Case(schedule="warmup_cosine", warmup_steps=5))(count)
    cosine = learning_rate(Case(schedule="cosine"))(count)
    assert linear.dtype == jnp.float32 and warmup.dtype == jnp.float32
    assert cosine.dtype == jnp.float64
    exact = 0.05 * (1 - 1 / 20)
    assert 1e-9 < abs(float(linear) - exact) / exact < 1e-6  # float32 rounding, not a bug in η


# ---------------------------------------------------------------- clipping


def test_torch_clip_grad_norm_adds_1e6_and_optax_does_not():
    """The reason the catalogue gives for torch vs optax clipping in float64."""
    adapter_class("torch")
    adapter_class("jax")
    import jax.numpy as jnp
    import optax
    import torch

    g = np.array([3.0, 4.0])  # norm 5
    tensor = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
    tensor.grad = torch.tensor(g)
    torch.nn.utils.clip_grad_norm_([tensor], 1.0)
    clipped, _ = optax.clip_by_global_norm(1.0).update(jnp.asarray(g), optax.EmptyState())
    np.testing.assert_allclose(tensor.grad.numpy(), g / (5.0 + 1e-6), rtol=1e-15)
    np.testing.assert_allclose(np.asarray(clipped), g / 5.0, rtol=1e-15)
    assert not np.allclose(tensor.grad.numpy(), np.asarray(clipped), rtol=1e-10, atol=0)


def test_reference_clips_only_above_the_norm():
    adapter_class("jax")  # the reference imports nothing, but loads as an adapter package
    from xbench_adapters.reference import clip_by_global_norm

    g = {"a": np.array([3.0]), "b": np.array([4.0])}
    below = clip_by_global_norm(g, Case(clip_norm=6.0, clip_eps=0.0))
    assert below is g
    above = clip_by_global_norm(g, Case(clip_norm=1.0, clip_eps=0.0))
    np.testing.assert_allclose([above["a"][0], above["b"][0]], [0.6, 0.8], rtol=1e-15)
