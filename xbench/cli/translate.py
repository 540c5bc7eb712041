"""``xbench translate``: a torch optimizer call as optax, or an optax expression as torch;
``--verify`` runs both (docs/translate.md). Exit 1 when SPEC has no exact counterpart or the
verification does not hold; 2 for a malformed SPEC."""

from __future__ import annotations

import argparse
import sys

from xbench.translate.job import Untranslatable, translate
from xbench.workloads.cases import MASKS, SCHEDULES


def add_parser(sub) -> None:
    p = sub.add_parser(
        "translate",
        help="a torch optimizer call as optax, or an optax expression as torch",
        description="Print the other framework's optimizer, every hyper-parameter explicit, "
        "and the conventions it had to match. SPEC is parsed, never run.",
    )
    p.add_argument(
        "spec",
        metavar="SPEC",
        help="e.g. 'torch.optim.AdamW(params, lr=3e-4, weight_decay=0.1)' or "
        "'optax.adamw(1e-3, weight_decay=1e-4)'",
    )
    p.add_argument("--to", choices=("optax", "torch"), help="(default: the other framework)")
    conventions = "; ".join(f"{k}: {v}" for k, v in MASKS.items() if k)
    p.add_argument(
        "--mask", default="", metavar="CONVENTION", help=f"which parameters decay: {conventions}"
    )
    p.add_argument(
        "--schedule", default="constant", help=f"torch's scheduler: {', '.join(SCHEDULES)}"
    )
    p.add_argument("--warmup-steps", type=int, default=0, help="warmup_cosine's warmup steps")
    p.add_argument("--steps", type=int, help="the schedule's horizon (default 1000)")
    p.add_argument("--clip-norm", type=float, help="torch's clip_grad_norm_ before step()")
    p.add_argument(
        "--verify",
        action="store_true",
        help="run SPEC and its translation on mlp_norm and transformer, float64, 20 steps",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        translated = translate(
            args.spec, args.to, args.mask, args.schedule, args.warmup_steps, args.steps,
            args.clip_norm,
        )  # fmt: skip
    except Untranslatable as exc:
        print(f"xbench translate: no exact counterpart: {exc}", file=sys.stderr)
        return 1
    print(translated.text)
    if not args.verify:
        return 0
    t = translated.translation
    verification = translated.verify()
    labels = [c.label.split("-", 1)[1] for c in (t.source_case, t.target_case)]
    print(f"# verify: {t.source} {labels[0]} against {t.target} {labels[1]}: float64,")
    print("#   20 steps, every step and tensor, xbench check's tolerance (atol 1e-12, rtol 1e-10)")
    if verification.scaled:
        print(f"#   {verification.scaled}")
    for check in verification.checks:
        print(f"#   {check.line()}")
    print("# verified" if verification.holds else "# NOT verified: see the notes above")
    return 0 if verification.holds else 1
