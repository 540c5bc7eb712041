"""xbench translate: torch optimizer calls and optax expressions, parsed (never run) and
mapped through Cases; the printed code builds what the adapters build; --verify runs both."""

import inspect
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import adapter_class
from xbench.cli import main
from xbench.translate.code import torch_code
from xbench.translate.job import translate
from xbench.translate.torch_table import TORCH, torch_to_jax
from xbench.workloads.cases import Case, decayed_names, not_applicable_reason
from xbench.workloads.catalogue import default_catalogue

OPTIMIZER_RULES = ("none", "weight_decay", "add_decayed_weights")


def run_cli(capsys, *argv):
    try:
        code = main(["translate", *argv])
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def normal(case: Case) -> Case:
    """The fields a translation carries: model, dtype and the rest set to one value."""
    return case.replace(model="mlp_norm", dtype="float64", seed=0, batch_size=16, bn_momentum=0.1)


def catalogue_torch_cases() -> list[Case]:
    """Every torch case of the catalogue an optimizer call expresses, with an optax
    counterpart: the torch-vs-jax equalities and the rule table's torch runs."""
    found = {}
    for e in default_catalogue():
        for side in (e.left, e.right):
            c = side.case
            if side.framework != "torch" or c.rule not in OPTIMIZER_RULES or c.variant:
                continue
            if c.unused_param or not_applicable_reason("jax", torch_to_jax(c)):
                continue
            if c.optimizer == "rmsprop" and c.momentum and c.schedule != "constant":
                continue  # untranslatable: optax's trace after the learning rate
            found[normal(c).to_json()] = normal(c)
    return list(found.values())


def spec_and_flags(case: Case) -> tuple[str, dict]:
    """A torch call a user would write for ``case``, and translate()'s keywords."""
    flags = dict(mask=case.mask, schedule=case.schedule, warmup_steps=case.warmup_steps)
    flags |= dict(steps=case.steps, clip_norm=case.clip_norm)
    return torch_code(case.replace(mask="")).expression, flags


CASES = catalogue_torch_cases()


def test_the_catalogue_gives_many_cases():
    assert len(CASES) >= 40
    assert {c.optimizer for c in CASES} == {
        "sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad",
    }  # fmt: skip
    assert {c.mask for c in CASES} >= {"", "kernels", "hf", "ndim2"}
    assert {c.schedule for c in CASES} == {"constant", "linear", "cosine", "warmup_cosine"}
    assert any(c.clipped for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_torch_to_optax_to_torch_is_the_same_case(case):
    spec, flags = spec_and_flags(case)
    there = translate(spec, **flags)
    assert there.source_case == case
    assert there.target_case == torch_to_jax(case)
    back = translate(there.expression, mask=case.mask, steps=case.steps)
    assert back.target_case == case and back.source_case == there.target_case


def test_the_catalogues_equal_pairs_are_the_translations():
    pairs = 0
    for e in default_catalogue():
        sides = {s.framework: s.case for s in (e.left, e.right)}
        if set(sides) != {"torch", "jax"} or not e.expect_equal:
            continue
        torch_case, jax_case = sides["torch"], sides["jax"]
        if jax_case.rule not in OPTIMIZER_RULES or torch_case.variant or jax_case.variant:
            continue
        if torch_case.bn_running_var != "unbiased":
            continue
        pairs += 1
        assert normal(torch_to_jax(torch_case)) == normal(jax_case), e.name
    assert pairs >= 15


def test_torch_defaults_are_the_installed_torchs():
    torch = pytest.importorskip("torch")
    for name, opt in TORCH.items():
        signature = inspect.signature(getattr(torch.optim, name)).parameters
        for key, default in opt.defaults.items():
            assert signature[key].default == default, (name, key)
        assert tuple(signature)[: len(opt.positional)] == opt.positional


# ----------------------------------------------------------------------------- the printed code

PRINTED = [
    ("SGD(params, lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)", {}),
    ("AdamW(params, lr=3e-4, betas=(0.9, 0.95), weight_decay=0.1)", {"mask": "hf"}),
    ("Adam(params, lr=1e-3, weight_decay=1e-2)", {"mask": "ndim2", "clip_norm": 0.5}),
    (
        "RMSprop(params, lr=1e-3, momentum=0.9, centered=True, weight_decay=0.1)",
        {"mask": "kernels"},
    ),
    ("Adagrad(params, lr=0.05, initial_accumulator_value=0.1, eps=1e-7)", {}),
    ("SGD(params, lr=0.1, weight_decay=0.1)", {"schedule": "warmup_cosine", "warmup_steps": 3}),
    ("AdamW(params, lr=1e-2)", {"schedule": "linear", "clip_norm": 1.0}),
]


def mlp_norm_tree(seed=0):
    rng = np.random.default_rng(seed)
    shapes = {"dense0": {"kernel": (8, 16), "bias": (16,)}, "norm0": {"scale": (16,)}}
    shapes["norm0"]["bias"] = (16,)
    shapes["out"] = {"kernel": (16, 4), "bias": (4,)}
    return {k: {n: rng.normal(size=s) for n, s in v.items()} for k, v in shapes.items()}


@pytest.mark.parametrize("spec, flags", PRINTED, ids=lambda x: str(x)[:30])
def test_the_printed_optax_expression_is_make_transform(spec, flags):
    adapter_class("jax")
    import jax
    import optax
    from xbench_adapters.jax_adapter import make_transform, nest

    t = translate(spec, steps=10, **flags)
    case = t.target_case
    namespace = {"optax": optax, "jax": jax}
    for line in t.code.setup:
        exec(line, namespace)  # our own generated text, never a user's
    printed = eval(t.expression, namespace)
    params = jax.tree.map(jax.numpy.asarray, mlp_norm_tree())
    flat = {f"{k}/{n}": v for k, leaves in params.items() for n, v in leaves.items()}
    decayed = decayed_names(flat, case)
    built = make_transform(case, nest({n: n in decayed for n in flat}))
    states = [tx.init(params) for tx in (printed, built)]
    for step in range(4):
        grads = jax.tree.map(jax.numpy.asarray, mlp_norm_tree(seed=step + 1))
        ups = []
        for i, tx in enumerate((printed, built)):
            updates, states[i] = tx.update(grads, states[i], params)
            ups.append(updates)
        jax.tree.map(lambda a, b: np.testing.assert_array_equal(a, b), *ups)
        params = optax.apply_updates(params, ups[0])


@pytest.mark.parametrize("spec, flags", PRINTED, ids=lambda x: str(x)[:30])
def test_the_printed_torch_call_builds_the_same_param_groups(spec, flags):
    adapter_class("torch")
    import torch

    t = translate(spec, steps=10, **flags)
    back = translate(t.expression, to="torch", mask=flags.get("mask", ""), steps=10)
    case = back.target_case
    assert case == t.source_case
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.LayerNorm(16))
    model.append(torch.nn.Linear(16, 4))
    namespace = {"torch": torch, "model": model, "params": list(model.parameters())}
    for line in back.code.setup:
        exec(line, namespace)
    optimizer = eval(back.expression, namespace)
    decay = {id(p) for g in optimizer.param_groups if g["weight_decay"] for p in g["params"]}
    expected = {
        "": {id(p) for p in model.parameters()},
        "hf": {id(model[0].weight), id(model[2].weight)},
        "kernels": {id(model[0].weight), id(model[2].weight)},
        "ndim2": {id(model[0].weight), id(model[2].weight)},
    }[case.mask]
    assert decay == (expected if case.weight_decay else set())
    group = optimizer.param_groups[0]
    assert group["lr"] == case.lr and group["weight_decay"] == case.weight_decay
    for key in ("alpha", "eps", "centered", "initial_accumulator_value"):
        field = "initial_accumulator" if key.startswith("initial") else key
        if key in group:
            assert group[key] == getattr(case, field), key
    if "momentum" in group and case.optimizer != "sgd":
        assert group["momentum"] == case.momentum
    if "betas" in group:
        assert group["betas"] == (case.beta1, case.beta2)


# ----------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "spec, named",
    [
        ("SGD(params, lr=0.1", "not a Python expression"),
        ("Lamb(params, lr=0.1)", "unknown optimizer 'Lamb'"),
        ("SGD(params, lr=0.1, foo=1)", "unsupported keyword 'foo'"),
        ("SGD(params, lr=-0.1)", "lr -0.1"),
        ("AdamW(params, lr=0)", "lr 0.0"),
        ("AdamW(params, lr=x)", "must be a literal"),
        ("AdamW(params, betas=0.9)", "two numbers"),
        ("SGD(params, nesterov=1)", "True or False"),
        ("optax.adamw(1e-3, mask=mask)", "--mask"),
        ("optax.lamb2(1e-3)", "unknown optax name"),
        ("__import__('os').system('echo hi')", "one optimizer call"),
        # a schedule without its step count (was a traceback)
        ("optax.sgd(optax.linear_schedule(0.1, 0.0))", "transition_steps is missing"),
        ("optax.adam(optax.cosine_decay_schedule(0.1))", "decay_steps is missing"),
        # a part given twice (the second clip or decay was silently taken)
        (
            "optax.chain(optax.clip_by_global_norm(1.0), optax.clip_by_global_norm(2.0), "
            "optax.sgd(0.1))",
            "two clip transformations",
        ),
        (
            "optax.chain(optax.add_decayed_weights(1e-4), optax.add_decayed_weights(1e-3), "
            "optax.sgd(0.1))",
            "two decay transformations",
        ),
        ("optax.chain(optax.sgd(0.1), optax.adam(0.1))", "two optimizer transformations"),
    ],
)
def test_a_malformed_spec_exits_2_in_one_line(capsys, spec, named):
    code, out, err = run_cli(capsys, spec)
    assert code == 2 and out == "" and named in err and len(err.strip().splitlines()) == 1


def test_code_in_a_spec_is_never_run(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    marker = "__import__('pathlib').Path('ran').touch()"
    for spec in (marker, f"SGD(params, lr={marker})", f"optax.sgd({marker})"):
        code, _, err = run_cli(capsys, spec)
        assert code == 2 and len(err.strip().splitlines()) == 1
    assert not Path("ran").exists()


@pytest.mark.parametrize(
    "spec, named",
    [
        ("SGD(params, lr=0.1, momentum=0.9, dampening=0.5)", "no dampening"),
        ("optax.chain(optax.sgd(0.1), optax.add_decayed_weights(1e-4))", "weights grow"),
        ("Adagrad(params, lr=0.1, lr_decay=0.01)", "no lr_decay"),
        ("Adam(params, lr=1e-3, amsgrad=True)", "amsgrad"),
        ("optax.rmsprop(1e-3)", "inside the square root"),
        ("optax.chain(optax.add_decayed_weights(0.1), optax.adamw(1e-3))", "one weight_decay"),
        ("RMSprop(params, momentum=0.9)", "momentum trace"),
    ],
)
def test_no_exact_counterpart_exits_1_with_the_reason_and_the_nearest(capsys, spec, named):
    flags = ["--schedule", "cosine"] if spec.startswith("RMSprop") else []
    code, out, err = run_cli(capsys, spec, *flags)
    assert code == 1 and out == "" and named in err and "nearest:" in err


def test_the_notes_name_each_convention(capsys):
    code, out, _ = run_cli(capsys, "Adagrad(params, lr=0.05)")
    assert code == 0 and "APPROXIMATE" in out and "optax.adagrad(" in out
    code, out, _ = run_cli(capsys, "optax.adamw(1e-3)")
    assert code == 0 and "weight_decay=0.0001" in out and "1e-2" in out
    code, out, _ = run_cli(capsys, "SGD(params, lr=0.1, weight_decay=0.1)", "--clip-norm", "1")
    assert "‖g‖ + 1e-6" in out and out.index("clip_by_global_norm") < out.index("add_decayed")


# ----------------------------------------------------------------------------- --verify

VERIFIED = [
    ("SGD(params, lr=0.05, weight_decay=0.1)", []),
    ("SGD(params, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)", []),
    ("Adam(params, lr=1e-2, weight_decay=0.1)", []),
    ("AdamW(params, lr=1e-2, weight_decay=0.1)", []),
    ("AdamW(params, lr=1e-3, weight_decay=0.1)", ["--mask", "hf"]),
    ("RMSprop(params, lr=1e-3, momentum=0.9, centered=True)", []),
    ("SGD(params, lr=0.05, weight_decay=0.1)", ["--schedule", "cosine", "--steps", "20"]),
    ("optax.chain(optax.add_decayed_weights(0.1), optax.sgd(0.05, momentum=0.9))", []),
    ("SGD(params, lr=0.05, weight_decay=0.1)", ["--clip-norm", "100"]),  # never acts
]


@pytest.mark.slow
@pytest.mark.parametrize("spec, flags", VERIFIED, ids=lambda x: str(x)[:40])
def test_verify_holds(capsys, spec, flags):
    adapter_class("torch"), adapter_class("jax")
    code, out, _ = run_cli(capsys, spec, *flags, "--verify")
    assert code == 0, out
    assert out.count(": equal: equal at every step") == 2 and out.endswith("# verified\n")


@pytest.mark.slow
@pytest.mark.parametrize(
    "spec, flags, largest",
    [
        ("Adagrad(params, lr=0.05)", [], 1e-2),  # torch's s₀ = 0: ε's placement shows
        ("SGD(params, lr=0.05, weight_decay=0.1)", ["--clip-norm", "0.5"], 1e-6),  # + 1e-6
    ],
)
def test_verify_reports_an_approximate_translation(capsys, spec, flags, largest):
    adapter_class("torch"), adapter_class("jax")
    t = translate(spec, clip_norm=float(flags[1]) if flags else None)
    verification = t.verify(models=("mlp_norm",))
    (check,) = verification.checks
    assert not verification.holds and check.agreement.first_divergent_step == 1
    assert 1e-12 < check.agreement.max_abs_error < largest
    if not flags:  # the command too: exit 1 (one run is enough)
        code, out, _ = run_cli(capsys, spec, "--verify")
        assert code == 1 and "NOT verified" in out
