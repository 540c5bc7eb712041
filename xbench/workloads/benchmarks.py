"""What the timed benchmarks measure: one frozen BenchCase per benchmark, and the profiles.

A BenchCase says *what* is timed (torch.utils.benchmark's TaskSpec plays this part there);
``xbench.run.timing`` times it under pytest-benchmark (the suite in ``xbench.suite``), and
``xbench.records.bench_run`` writes and reads the result, bandwidth included.

Kinds:

- ``update``: the optimizer update alone, the rule included, given fixed gradients
  (the gradients are set once; each call reads them and writes parameters and state).
- ``train``: forward, backward, regularizer and update of ``mlp_wide`` on one batch.
- ``reference``: memory-bound kernels moving as many bytes as AdamW at the same parameter
  count, the roofline every other result is compared with: ``copy`` (``dst ← src``) and
  ``inplace_add`` (``a ← a + b``, the read-modify-write pattern of an optimizer). A copy into a
  separate buffer also pays a read of ``dst`` that it never counts (write-allocate), so on CPU
  it shows less bandwidth than in-place kernels reach; the roofline is the better of the two.
- ``overhead``: an update step timed by pytest-benchmark and by a bare perf_counter loop
  (``overhead_cases``), plus one deliberately slowed copy that the check must catch.

``l2_loss`` is timed in the training step only: with fixed gradients its update *is* the
``none`` update, because the penalty acts through the gradient, which only the training
step computes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from xbench.errors import UsageError
from xbench.workloads.cases import Case, mechanism, not_applicable_reason
from xbench.workloads.models import Model, Vector, init_params, mlp
from xbench.workloads.problems import Problem

KINDS = ("update", "train", "reference", "overhead")
REFERENCE_KERNELS = {"copy": 2, "inplace_add": 3}  # kernel -> arrays touched per element
IMPLEMENTATIONS = {
    "torch": ("forloop", "foreach", "fused", "compiled"),
    "jax": ("jit", "jit_donate", "jit_flat"),
}
BENCH_OPTIMIZERS = ("sgd", "momentum", "adam", "adamw")
BENCH_RULES = ("none", "weight_decay", "l2_loss", "add_decayed_weights")
UPDATE_RULES = ("none", "weight_decay", "add_decayed_weights")  # l2_loss: see the docstring
SIZES = (10**3, 10**4, 10**5, 10**6, 10**7)
MANY = 1000  # tensors in the "many small tensors" layout

# Hyper-parameters of every timed case (typical values; ηλ is far above float32's 6e-8).
BENCH_LR = {"sgd": 1e-2, "momentum": 1e-2, "adam": 1e-3, "adamw": 1e-3}
BENCH_DECAY = 1e-2

# State arrays per parameter: sgd none, momentum one buffer, Adam two moments.
STATE_ARRAYS = {"sgd": 0, "momentum": 1, "nesterov": 1, "adam": 2, "adamw": 2}

TRAIN_INPUT, TRAIN_OUTPUT, TRAIN_BATCH = 64, 4, 32


def bytes_per_param(optimizer: str, itemsize: int = 4) -> int:
    """Least traffic of one update per parameter: read w, g and the state; write w and state.

    A fused kernel reads every array once and writes every updated one once; the rule adds
    no array (λ·w reuses the w already read). AdamW in float32: (4 + 3)·4 = 28 bytes.
    Implementations that keep intermediates (for-loop, foreach) move more than this.
    """
    state = STATE_ARRAYS[optimizer]
    return itemsize * ((2 + state) + (1 + state))


def size_label(params: int) -> str:
    exponent = round(math.log10(params))
    return f"1e{exponent}" if 10**exponent == params else str(params)


def layout_label(tensors: int) -> str:
    return "one" if tensors == 1 else f"x{tensors}"


def benchmark_group(
    kind: str, optimizer: str, rule: str, params: int, tensors: int, device: str = "cpu"
) -> str:
    """What a benchmark is compared with side by side in pytest-benchmark's tables: every
    implementation of both frameworks at one optimizer × decay mechanism × size × layout
    (``update/adamw/decoupled decay/1e6/one``; torch ``weight_decay`` and optax
    ``add_decayed_weights`` share ``coupled decay``, except AdamW's decoupled
    ``weight_decay``); the reference kernels by size."""
    size = [size_label(params), layout_label(tensors)]
    on = [] if device == "cpu" else [device]
    if kind == "reference":
        return "/".join(["reference", *size, *on])
    return "/".join([kind, optimizer, mechanism(optimizer, rule), *size, *on])


@dataclass(frozen=True)
class BenchCase:
    """One benchmark: what is timed, on what, how large."""

    kind: str
    framework: str = ""
    implementation: str = ""
    optimizer: str = ""
    rule: str = ""
    params: int = 10**6
    tensors: int = 1
    dtype: str = "float32"
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise UsageError(f"unknown benchmark kind {self.kind!r}; valid: {', '.join(KINDS)}")
        if self.kind == "reference":
            valid = tuple(REFERENCE_KERNELS)
        else:
            valid = IMPLEMENTATIONS.get(self.framework, ())
        if self.implementation not in valid:
            raise UsageError(
                f"unknown implementation {self.implementation!r} for {self.framework!r}; "
                f"valid: {', '.join(valid) or 'none (framework must be torch or jax)'}"
            )
        if self.tensors < 1 or self.params < self.tensors:
            raise UsageError(f"{self.params} parameters cannot fill {self.tensors} tensors")

    @property
    def model(self) -> str:
        if self.kind == "train":
            return "mlp_wide"
        return f"vectors{self.tensors}"

    @property
    def id(self) -> str:
        """A readable pytest id, e.g. ``update-adamw-weight_decay-torch-fused-1e6-one``."""
        size = f"{size_label(self.params)}-{layout_label(self.tensors)}"
        if self.kind == "reference":
            return f"reference-{self.implementation}-{size}-{self.device}"
        parts = [self.kind, self.optimizer, self.rule, self.framework, self.implementation, size]
        return "-".join(parts) + ("" if self.device == "cpu" else f"-{self.device}")

    @property
    def group(self) -> str:
        """pytest-benchmark's group (``benchmark_group``)."""
        return benchmark_group(
            self.kind, self.optimizer, self.rule, self.params, self.tensors, self.device
        )

    @property
    def labels(self) -> dict[str, str | int]:
        """The benchmark's parameters as JSON values, for pytest-benchmark's ``params``
        (``--group-by=param:optimizer``, ``param:size``, ...): every benchmark has every
        key."""
        return {
            "kind": self.kind,
            "framework": self.framework,
            "implementation": self.implementation,
            "optimizer": self.optimizer,
            "rule": self.rule,
            "mechanism": mechanism(self.optimizer, self.rule) if self.optimizer else "",
            "model": self.model,
            "size": self.params,
            "tensors": self.tensors,
            "dtype": self.dtype,
            "device": self.device,
        }

    @property
    def bytes_moved(self) -> int:
        """Bytes one step must move at least: the update's traffic (see bytes_per_param).

        For ``train`` this is the update's share only; forward and backward are not counted,
        so its bandwidth figure says how much of the step the update could account for.
        For ``reference``, the kernel's reads plus writes: AdamW's at ``params``, to within
        one element.
        """
        itemsize = np.dtype(self.dtype).itemsize
        if self.kind == "reference":
            return self.elements * REFERENCE_KERNELS[self.implementation] * itemsize
        return self.params * bytes_per_param(self.optimizer, itemsize)

    @property
    def resident_bytes(self) -> int:
        """About the memory the benchmark holds: its arrays drawn in float64 (parameters and
        gradients), then the framework's parameters, gradients and optimizer state, and as much
        again for a step's outputs and temporaries (a jit without donation returns new arrays;
        torch's for-loop keeps intermediates). The interpreter and the libraries come on top."""
        if self.kind == "reference":
            return 2 * self.bytes_moved
        itemsize = np.dtype(self.dtype).itemsize
        return self.params * (2 * 8 + 2 * (2 + STATE_ARRAYS[self.optimizer]) * itemsize)

    @property
    def elements(self) -> int:
        """For ``reference``: elements per array, so that it moves AdamW's bytes at ``params``."""
        arrays = REFERENCE_KERNELS.get(self.implementation, 1)
        return self.params * bytes_per_param("adamw") // (arrays * 4)

    def case(self) -> Case:
        """The xbench Case whose optimizer and rule configuration is timed."""
        lam = 0.0 if self.rule == "none" else BENCH_DECAY
        return Case(
            model="mlp",  # nominal: the timed model is self.model, built by problem()
            optimizer=self.optimizer,
            rule=self.rule,
            lr=BENCH_LR[self.optimizer],
            weight_decay=lam,
            steps=1,
            batch_size=TRAIN_BATCH,
            dtype=self.dtype,
            device=self.device,
        )

    def not_applicable(self) -> str | None:
        if self.kind == "update" and self.rule == "l2_loss":
            return "l2_loss with fixed gradients is the none update; timed as a training step"
        return not_applicable_reason(self.framework, self.case())

    def problem(self, seed: int = 0) -> Problem:
        """Parameters (and for ``train`` one batch) from ``seed``, in ``self.dtype``."""
        rng = np.random.default_rng(seed)
        if self.kind == "train":
            model = wide_mlp(self.params)
            x = rng.normal(size=(1, TRAIN_BATCH, TRAIN_INPUT))
            y = np.tanh(rng.normal(size=(1, TRAIN_BATCH, TRAIN_OUTPUT)))
        else:
            model = vectors(self.params, self.tensors)
            x, y = np.zeros((1, 1, 1)), np.zeros((1, 1, 1))
        params = init_params(model, rng)
        return Problem(model, params, x, y).as_dtype(np.dtype(self.dtype))

    def gradients(self, seed: int = 1) -> dict[str, np.ndarray]:
        """Fixed standard-normal gradients for the update step, canonical layout."""
        rng = np.random.default_rng(seed)
        shapes = vectors(self.params, self.tensors).param_shapes()
        dtype = np.dtype(self.dtype)
        return {n: rng.standard_normal(s).astype(dtype) for n, s in shapes.items()}


ROOFLINE_KERNEL = "inplace_add"  # the faster reference kernel on CPU (no write-allocate)


def roofline_kernel(bench: BenchCase) -> BenchCase:
    """The reference kernel timed just before and after ``bench``: AdamW's bytes at its size."""
    return BenchCase(
        "reference", implementation=ROOFLINE_KERNEL, params=bench.params, device=bench.device
    )


def vectors(params: int, tensors: int) -> Model:
    """``params`` parameters as ``tensors`` 1-D tensors of (nearly) equal length."""
    base, extra = divmod(params, tensors)
    layers = tuple(Vector(f"t{i:04d}", base + (i < extra)) for i in range(tensors))
    return Model(f"vectors{tensors}", (1,), 1, layers)


def wide_mlp(params: int) -> Model:
    """64 → h → h → 4 with tanh, h chosen so the parameter count is closest to ``params``.

    Parameters: 64h + h + h² + h + 4h + 4 = h² + 70h + 4 (six tensors).
    """
    width = max(1, round((-70 + math.sqrt(70**2 - 4 * (4 - params))) / 2))
    return mlp("mlp_wide", TRAIN_INPUT, width, TRAIN_OUTPUT)


# ----------------------------------------------------------------------------- profiles


@dataclass(frozen=True)
class SweepProfile:
    """A sweep: which benchmarks run, and the time each may take for its rounds."""

    name: str
    seconds_per_benchmark: float
    description: str
    paired_seconds: float = 0.0  # budget of the torch-vs-JAX stage after the sweep


SWEEP_PROFILES = {
    "quick": SweepProfile(
        "quick",
        0.15,
        "every kind and implementation at a few points: AdamW update at 1e4 and 1e6 (one "
        "tensor) and 1e4 in 1000 tensors, SGD update at 1e4, SGD/Adam training steps at 1e5 "
        "with weight_decay (add_decayed_weights in JAX) and l2_loss, reference kernels at 1e4, "
        "1e5 and 1e6",
        paired_seconds=60.0,
    ),
    "default": SweepProfile(
        "default",
        0.3,
        "update steps of sgd, momentum, adam, adamw × none/weight_decay/add_decayed_weights at "
        "1e3–1e7 in one tensor, torch forloop/foreach/fused and JAX jit with and without "
        "donation; torch.compile for adamw at every size and sgd at 1e6 and 1e7 (the first "
        "compile in a process takes about 10 s, later ones about 1 s); sgd and adamw in 1000 "
        "tensors at 1e4 and 1e6 with JAX jit_flat too (not torch.compile: its compile of 1000 "
        "tensors takes 6–7 minutes); training "
        "steps of every optimizer × rule at 1e3–1e7 (torch forloop and fused, JAX jit with "
        "donation); both reference kernels at every size",
        paired_seconds=420.0,
    ),
}


def _applicable(cases) -> list[BenchCase]:
    return [c for c in cases if c.kind == "reference" or c.not_applicable() is None]


def sweep(profile: str, device: str = "cpu") -> list[BenchCase]:
    """Every BenchCase of ``profile``, in run order (copies first, the roofline they feed)."""
    if profile not in SWEEP_PROFILES:
        raise UsageError(f"unknown profile {profile!r}; valid: {', '.join(SWEEP_PROFILES)}")
    return _applicable(_quick_cases(device) if profile == "quick" else _default_cases(device))


def _cases(kind, optimizers, rules, impls, sizes, device, tensors=1):
    return [
        BenchCase(kind, fw, impl, opt, rule, n, tensors, device=device)
        for opt in optimizers
        for rule in rules
        for fw, impl in impls
        for n in sizes
    ]


# The smallest size whose torch-vs-JAX comparison is timed interleaved: below it a step takes
# a few microseconds, and what is compared is the frameworks' call overhead, not the update.
PAIRED_FROM = 10**4
FLAT = [("jax", "jit_flat")]  # all parameters as one vector: timed where there are many
ALL_IMPLS = [(fw, impl) for fw, impls in IMPLEMENTATIONS.items() for impl in impls
             if (fw, impl) not in FLAT]  # fmt: skip
EAGER_AND_JIT = [pair for pair in ALL_IMPLS if pair != ("torch", "compiled")]
MULTI_TENSOR = [*EAGER_AND_JIT, *FLAT]  # for the 1000-tensor layout: torch foreach/fused's peer
TRAIN_IMPLS = [("torch", "forloop"), ("torch", "fused"), ("jax", "jit_donate")]


def _references(sizes, device):
    return [
        BenchCase("reference", implementation=kernel, params=n, device=device)
        for n in sizes
        for kernel in REFERENCE_KERNELS
    ]


def _quick_cases(device):
    return (
        _references([10**4, 10**5, 10**6], device)
        + _cases("update", ["adamw"], ["weight_decay"], ALL_IMPLS, [10**4, 10**6], device)
        + _cases("update", ["adamw"], ["weight_decay"], MULTI_TENSOR, [10**4], device, MANY)
        + _cases("update", ["sgd"], ["none"], EAGER_AND_JIT, [10**4], device)
        + _cases("train", ["sgd", "adam"], BENCH_RULES, TRAIN_IMPLS[::2], [10**5], device)
    )


def _default_cases(device):
    many = [10**4, 10**6]
    compiled = [("torch", "compiled")]
    return (
        _references(SIZES, device)
        + _cases("update", BENCH_OPTIMIZERS, UPDATE_RULES, EAGER_AND_JIT, SIZES, device)
        + _cases("update", ["adamw"], ["weight_decay"], compiled, SIZES, device)
        + _cases("update", ["sgd"], ["none"], compiled, [10**6, 10**7], device)
        + _cases("update", ["sgd"], ["none"], MULTI_TENSOR, many, device, MANY)
        + _cases("update", ["adamw"], ["weight_decay"], MULTI_TENSOR, many, device, MANY)
        + _cases("train", BENCH_OPTIMIZERS, BENCH_RULES, TRAIN_IMPLS, SIZES, device)
    )


# ----------------------------------------------------------------------------- the gate

GATE_SIZES = (10**4, 10**6)


def gate_cases(device: str = "cpu") -> list[BenchCase]:
    """What CI times against the baseline revision (``xbench ab --gate``): the AdamW update
    (weight_decay) in torch's three eager paths and JAX's donated jit, at a cache-resident and
    a memory-bound size, and one training step per framework. torch.compile is left out
    (each fresh worker process would compile it again, about 10 s), and so is JAX's jit
    without donation (the same XLA program as ``jit_donate`` plus a copy; its process-to-process
    spread at 10⁴, ×0.56–×1.6 between A/A pairs here, would widen the gate's interval most)."""
    impls = [pair for pair in EAGER_AND_JIT if pair != ("jax", "jit")]
    return _applicable(
        _cases("update", ["adamw"], ["weight_decay"], impls, GATE_SIZES, device)
        + _cases("train", ["adam"], ["weight_decay", "add_decayed_weights"], TRAIN_IMPLS[1:],
                 [10**5], device)
    )  # fmt: skip


# ----------------------------------------------------------------------------- overhead

OVERHEAD_SIZES = (10**4, 10**6)
OVERHEAD_IMPLEMENTATIONS = (("torch", "fused"), ("jax", "jit_donate"))


def overhead_cases(device: str = "cpu") -> list[BenchCase]:
    """The harness check: AdamW at two sizes in each framework's fastest path. Every profile
    runs these, and one perturbed copy (``perturbed_overhead_case``) that must fail it."""
    return [
        BenchCase("overhead", fw, impl, "adamw", "weight_decay", n, device=device)
        for fw, impl in OVERHEAD_IMPLEMENTATIONS
        for n in OVERHEAD_SIZES
    ]


def perturbed_overhead_case() -> BenchCase:
    """The overhead case slowed by 10% busy-wait on purpose (torch fused AdamW, 1e4)."""
    return BenchCase("overhead", "torch", "fused", "adamw", "weight_decay", OVERHEAD_SIZES[0])


def benchmark_count(profile: str, device: str = "cpu") -> int:
    """Every benchmark ``xbench bench`` runs for ``profile``: the sweep and the harness check."""
    return len(sweep(profile, device)) + len(overhead_cases(device)) + 1
