"""Flags shared by several commands, each declared once (as pytest-benchmark's
``add_display_options``), and the argument parser that reports errors in one line."""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

from xbench.errors import UsageError
from xbench.workloads.cases import (
    DTYPES,
    MASKS,
    OPTIMIZERS,
    RULES,
    RUNNING_VARS,
    SCHEDULES,
    VARIANTS,
    Case,
    validate_device,
)
from xbench.workloads.models import BATCH_NORM_MODELS, MODELS

RESULTS = Path("results")


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line, exit code 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")

    def parse_known_args(self, args=None, namespace=None):
        """As argparse, and an option of one value that came out as a list is refused:
        argparse (3.11) turns ``--results=--`` into ``[]``."""
        parsed, extras = super().parse_known_args(args, namespace)
        for action in self._actions:
            one = type(action) is argparse._StoreAction and action.nargs is None
            if one and isinstance(getattr(parsed, action.dest, None), list):
                self.error(f"argument {action.option_strings[-1]}: expected one value")
        return parsed, extras


def add_device(p: argparse.ArgumentParser, what: str = "") -> None:
    p.add_argument("--device", default="cpu", help=f"{what}cpu, cuda or cuda:N (default cpu)")


def add_threads(p: argparse.ArgumentParser, what: str = "") -> None:
    p.add_argument(
        "--threads", type=int, help=f"{what}threads for both frameworks (default: every CPU)"
    )


def add_label(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--label", help=what)


def add_results(p: argparse.ArgumentParser, what: str = "") -> None:
    p.add_argument("--results", type=Path, default=RESULTS, help=f"{what}(default %(default)s)")


def add_overwrite(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--overwrite", action="store_true", help=what)


def add_list(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--list", action="store_true", help=what)


def add_no_plots(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-plots", action="store_true", help="tables only")


def device(value: str) -> str:
    """``value`` if it names a device, else a UsageError."""
    validate_device(value)
    return value


def add_case(p: argparse.ArgumentParser) -> None:
    """Every field of a Case, with its default."""
    d = Case()
    p.add_argument("--model", default=d.model, help=f"one of: {', '.join(MODELS)}")
    p.add_argument("--optimizer", default=d.optimizer, help=f"one of: {', '.join(OPTIMIZERS)}")
    p.add_argument("--rule", default=d.rule, help=f"one of: {', '.join(RULES)}")
    p.add_argument("--lr", type=float, default=d.lr, help="learning rate η (default %(default)s)")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay, help="λ (default 0)")
    p.add_argument(
        "--momentum", type=float, help="μ: momentum, nesterov, rmsprop (default 0.9; rmsprop 0)"
    )
    p.add_argument("--beta1", type=float, help=f"adam, adamw (default {d.beta1})")
    p.add_argument("--beta2", type=float, help=f"adam, adamw (default {d.beta2})")
    p.add_argument(
        "--eps", type=float, help="ε: adam, adamw, rmsprop, adagrad (default 1e-8; adagrad 1e-10)"
    )
    p.add_argument("--l1-ratio", type=float, help=f"elastic_net_loss's α (default {d.l1_ratio})")
    conventions = "; ".join(f"{k}: {v}" for k, v in MASKS.items() if k)
    p.add_argument(
        "--mask",
        nargs="?",
        const="kernels",
        default="",
        metavar="CONVENTION",
        help=f"exempt parameters from decay (default: none exempt); --mask alone is kernels. "
        f"{conventions}",
    )
    p.add_argument("--no-mask", dest="mask", action="store_const", const="", help=argparse.SUPPRESS)
    p.add_argument("--steps", type=int, default=d.steps, help="(default %(default)s)")
    p.add_argument("--seed", type=int, default=d.seed, help="(default %(default)s)")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="(default %(default)s)")
    p.add_argument("--dtype", default=d.dtype, help=f"one of: {', '.join(DTYPES)}")
    add_device(p)
    add_optimizer_flags(p)
    variants = ", ".join(f"{k} ({v})" for k, v in VARIANTS.items() if k)
    p.add_argument("--variant", default="", help=f"a known misconfiguration: {variants}")
    p.add_argument(
        "--unused-param",
        action="store_true",
        help="add a parameter outside the forward pass (it never gets a gradient)",
    )


def add_optimizer_flags(p: argparse.ArgumentParser) -> None:
    """RMSprop, Adagrad and SGD's own hyper-parameters, the schedule and clipping."""
    d = Case()
    p.add_argument("--alpha", type=float, help=f"RMSprop's smoothing α (default {d.alpha})")
    p.add_argument("--centered", action="store_true", help="centered RMSprop")
    p.add_argument(
        "--initial-accumulator",
        type=float,
        default=d.initial_accumulator,
        help="Adagrad's starting sum of squares (default %(default)s, torch's)",
    )
    p.add_argument(
        "--lr-decay", type=float, default=d.lr_decay, help="torch Adagrad's lr_decay (default 0)"
    )
    p.add_argument(
        "--eps-in-sqrt",
        action="store_true",
        help="RMSprop/Adagrad: ε inside the square root, 1/√(v + ε) (optax's; default: outside)",
    )
    p.add_argument(
        "--dampening", type=float, default=d.dampening, help="momentum dampening τ (default 0)"
    )
    p.add_argument(
        "--schedule", default=d.schedule, help=f"learning-rate schedule: {', '.join(SCHEDULES)}"
    )
    p.add_argument(
        "--warmup-steps", type=int, default=d.warmup_steps, help="warmup_cosine's warmup steps"
    )
    p.add_argument(
        "--clip-norm",
        type=float,
        help="clip the global gradient norm to this (default: no clip; JAX needs --clip-eps 0)",
    )
    p.add_argument(
        "--clip-eps",
        type=float,
        help=f"clip factor c/(‖g‖ + ε): torch {d.clip_eps} (default), optax 0",
    )
    p.add_argument(
        "--bn-momentum",
        type=float,
        help=f"batch norm: the batch statistic's weight in each running average, in (0, 1]: "
        f"torch's momentum (default {d.bn_momentum}); Flax's momentum is 1 − this",
    )
    p.add_argument(
        "--bn-running-var",
        help=f"batch norm's running variance: {' or '.join(RUNNING_VARS)} (default "
        f"{d.bn_running_var}, torch's; Flax's is biased)",
    )


# Flags with no default of their own (None when not given): what each applies to. A flag
# given where it does nothing is refused rather than silently ignored.
APPLIES = {
    "momentum": ("optimizer", ("momentum", "nesterov", "rmsprop")),
    "beta1": ("optimizer", ("adam", "adamw")),
    "beta2": ("optimizer", ("adam", "adamw")),
    "eps": ("optimizer", ("adam", "adamw", "rmsprop", "adagrad")),
    "alpha": ("optimizer", ("rmsprop",)),
    "l1_ratio": ("rule", ("elastic_net_loss",)),
}


def case_from(args: argparse.Namespace) -> Case:
    """The Case the flags of ``add_case`` describe (validated); a flag that the case would
    ignore is a UsageError."""
    for field, (kind, valid) in APPLIES.items():
        if getattr(args, field) is not None and getattr(args, kind) not in valid:
            raise UsageError(
                f"--{field.replace('_', '-')} applies to {kind} {', '.join(valid)}, "
                f"not {getattr(args, kind)!r}"
            )
    if args.clip_eps is not None and args.clip_norm is None:
        raise UsageError("--clip-eps goes with --clip-norm")
    if args.mask and args.rule == "none":
        raise UsageError(f"--mask {args.mask} needs a decaying rule, not 'none'")
    for field in ("bn_momentum", "bn_running_var"):
        if getattr(args, field) is not None and args.model in set(MODELS) - {*BATCH_NORM_MODELS}:
            raise UsageError(
                f"--{field.replace('_', '-')} applies to a model with batch norm "
                f"({', '.join(BATCH_NORM_MODELS)}), not {args.model!r}"
            )
    given = {f.name: getattr(args, f.name) for f in fields(Case)}  # add_case has a flag each
    return Case(**{k: v for k, v in given.items() if v is not None or k == "clip_norm"})
