"""xbench study: data, shared batches and masks, the new mechanisms against the reference,
the claim rules on both sides of each verdict, the CLI end to end, and the committed STUDY.md
regenerated from its JSON."""

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import adapter_class, run_cli
from xbench.analysis import study as claims_of
from xbench.analysis.study import StudyIndex
from xbench.errors import UsageError
from xbench.present import study_md, study_plots
from xbench.present.study_md import word_cost
from xbench.records import study_run
from xbench.records.bench_run import load as load_run
from xbench.records.layout import bench_runs
from xbench.run.equivalence import FLOAT64_TOLERANCE, compare
from xbench.run.trajectory import record
from xbench.study import conditions, training
from xbench.study import data as digits

pytest.importorskip("sklearn")

REPO = Path(__file__).resolve().parents[2]
PUBLISHED = REPO / "results" / "study"


# ---------------------------------------------------------------- data, batches, masks


def test_split_is_fixed_disjoint_and_complete():
    a, b = digits.load_digits(), digits.load_digits()
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_val, b.y_val)
    assert len(a.x_train) == digits.TRAIN_SIZE and len(a.x_train) + len(a.x_val) == 1797
    rows = {r.tobytes() for r in a.x_val}
    # digits holds a few duplicate images; no training image may be a validation row by index,
    # so compare counts: every image appears in exactly one split as often as in the dataset
    from sklearn.datasets import load_digits

    everything = sorted(r.tobytes() for r in load_digits().data / 16.0)
    assert sorted([r.tobytes() for r in a.x_train] + [r.tobytes() for r in a.x_val]) == everything
    assert len(rows) > 1000 and a.x_train.min() >= 0.0 and a.x_train.max() == 1.0
    assert set(a.y_train) == set(range(10))


def test_batches_are_seeded_and_each_epoch_visits_the_training_set_once():
    data = digits.load_digits()
    p0, again, p1 = (digits.make_problem(data, s, 3) for s in (0, 0, 1))
    assert np.array_equal(p0.x, again.x)
    assert np.array_equal(p0.params["dense0/kernel"], again.params["dense0/kernel"])
    assert not np.array_equal(p0.x, p1.x)
    per_epoch = digits.batches_per_epoch()
    assert p0.x.shape == (3 * per_epoch, conditions.BATCH_SIZE, 64) and p0.x.dtype == np.float32
    train = sorted(r.tobytes() for r in data.x_train.astype(np.float32))
    for epoch in range(3):
        seen = p0.x[epoch * per_epoch : (epoch + 1) * per_epoch].reshape(-1, 64)
        assert sorted(r.tobytes() for r in seen) == train
    assert np.array_equal(p0.y.sum(axis=-1), np.ones(p0.y.shape[:2]))
    assert p0.loss == "cross_entropy" and p0.keep == ()


def test_the_batch_norm_model_starts_from_the_same_kernels_and_batches():
    data = digits.load_digits()
    models = (conditions.MODEL, conditions.BN_MODEL)
    plain, bn = (digits.make_problem(data, 3, 2, 0.2, m) for m in models)
    for name in ("dense0/kernel", "dense1/kernel", "out/kernel"):
        np.testing.assert_array_equal(plain.params[name], bn.params[name], err_msg=name)
    assert np.array_equal(plain.x, bn.x) and all(map(np.array_equal, plain.keep, bn.keep))
    assert "dense0/bias" not in bn.params and np.all(bn.params["bn0/scale"] == 1)


def test_dropout_masks_are_scaled_seeded_and_nested():
    data = digits.load_digits()
    light, heavy = (digits.make_problem(data, 0, 2, rate) for rate in (0.2, 0.5))
    assert len(light.keep) == 2 and light.keep[0].shape == (2 * digits.batches_per_epoch(), 32, 64)
    for rate, problem in ((0.2, light), (0.5, heavy)):
        mask = problem.keep[0]
        assert set(np.unique(mask)) == {0.0, np.float32(1 / (1 - rate))}
        assert abs(np.mean(mask == 0) - rate) < 0.01
    assert np.all((light.keep[1] == 0) <= (heavy.keep[1] == 0))  # 0.5 drops what 0.2 drops
    assert np.array_equal(light.x, heavy.x)  # dropout does not change the batches


# ---------------------------------------------------------------- mechanisms vs the reference


def _trajectories(problem, condition, frameworks=("torch", "jax", "reference"), steps=6):
    out = {}
    for framework in frameworks:
        adapter_cls = adapter_class(framework)
        case = condition.case("torch" if framework == "reference" else framework, 0, steps)
        case = case.replace(dtype="float64")
        out[framework] = record(adapter_cls(problem.as_dtype(np.float64), case), case)
    return out


@pytest.mark.parametrize("name", [c.name for c in conditions.CONDITIONS if "0.0001" not in c.name])
def test_study_training_matches_the_reference_in_float64(name):
    """Cross-entropy, dropout masks, the proximal step: every framework equals the float64
    reference; and the check notices a mask or a loss that one side ignores."""
    condition = next(c for c in conditions.CONDITIONS if c.name == name)
    data = digits.load_digits()
    problem = digits.make_problem(data, 0, 1, condition.dropout, condition.model)
    runs = _trajectories(problem, condition)
    for framework in ("torch", "jax"):
        agreement = compare(runs[framework], runs["reference"], FLOAT64_TOLERANCE)
        assert agreement.equal, (framework, agreement)
    if condition.model == conditions.BN_MODEL:  # its statistics are compared too
        assert runs["reference"].stats and runs["torch"].stats.keys() == runs["jax"].stats.keys()
        case = condition.case("jax", 0, 6).replace(dtype="float64", bn_running_var="biased")
        biased = record(adapter_class("jax")(problem.as_dtype(np.float64), case), case)
        assert compare(biased, runs["reference"], FLOAT64_TOLERANCE).tensor.endswith("running_var")
    mse = dataclasses.replace(problem, loss="mse")
    wrong = _trajectories(mse, condition, ("jax",))["jax"]
    assert not compare(wrong, runs["reference"], FLOAT64_TOLERANCE).equal
    if condition.dropout:
        unmasked = dataclasses.replace(problem, keep=())
        wrong = _trajectories(unmasked, condition, ("torch",))["torch"]
        assert not compare(wrong, runs["reference"], FLOAT64_TOLERANCE).equal


def test_soft_threshold_zeroes_exactly_what_it_should_in_every_framework():
    from xbench_adapters.reference import soft_threshold

    w = np.array([-0.3, -0.01, -0.0099, 0.0, 0.005, 0.0101, 0.2])
    expected = np.array([-0.29, 0.0, 0.0, 0.0, 0.0, 0.0001, 0.19])
    assert np.allclose(soft_threshold(w, 0.01), expected, atol=1e-15, rtol=0)
    assert np.array_equal(soft_threshold(w, 0.01) == 0, expected == 0)
    assert not np.allclose(soft_threshold(w, 0.0101), expected, atol=1e-15, rtol=0)

    torch = pytest.importorskip("torch")
    from xbench_adapters.torch_adapter import soft_threshold_

    t = torch.tensor(w)
    soft_threshold_([t], 0.01)
    assert np.allclose(t.numpy(), expected, atol=1e-15, rtol=0) and np.sum(t.numpy() == 0) == 4

    jnp = pytest.importorskip("jax.numpy")
    import optax
    from xbench_adapters.jax_adapter import soft_threshold

    params = jnp.asarray(w)
    updates, _ = soft_threshold(0.01).update(jnp.zeros_like(params), optax.EmptyState(), params)
    moved = np.asarray(optax.apply_updates(params, updates))
    assert np.allclose(moved, expected, atol=1e-15, rtol=0) and np.sum(moved == 0) == 4


# ---------------------------------------------------------------- claims, both sides


def condition_dict(c: conditions.Condition) -> dict:
    info = c.info()
    return {"name": info.name, "family": info.family, "label": info.label,
            "optimizer": info.optimizer, "lambda": info.lam, "dropout": info.dropout,
            "rule": info.rule, "model": info.model}  # fmt: skip


def index(doc: dict) -> StudyIndex:
    """The claims' view of a (partial) study document."""
    return StudyIndex(study_run.from_document(doc))


def _doc(final: dict, contrast_diff=0.5, seeds=(0, 1, 2)) -> dict:
    """A study document with chosen final metrics: {name: {metric: value or per-seed list}}."""
    chosen = [c for c in conditions.CONDITIONS if c.name in final]
    defaults = {"train_loss": 0.01, "val_loss": 0.2, "train_acc": 1.0, "val_acc": 0.95,
                "weight_norm": 15.0, "zero_frac": 0.0, "small_frac": 0.01}  # fmt: skip
    runs = []
    for c in chosen:
        for seed_index, seed in enumerate(seeds):
            for framework in ("torch", "jax"):
                metrics = defaults | final[c.name]
                history = {
                    k: [v[seed_index] if isinstance(v, list) else v] for k, v in metrics.items()
                }
                runs.append({"condition": c.name, "framework": framework, "seed": seed,
                             "history": history})  # fmt: skip
    diff = contrast_diff if isinstance(contrast_diff, dict) else {}
    contrasts = [
        {"a": a, "b": b, "seed": s, "framework": f, "max_abs_diff": 0.1,
         "zero_pattern_mismatch": 0.0,
         "rel_diff": diff.get(b, contrast_diff) if a != "adam" else
         (0.0 if b.startswith("adamw") else 0.5)}
        for a, b in conditions.CONTRASTS for s in seeds for f in ("torch", "jax")
    ]  # fmt: skip
    return {
        "settings": {"seeds": list(seeds), "small": training.SMALL},
        "conditions": [condition_dict(c) for c in chosen],
        "runs": runs,
        "agreement": [],
        "contrasts": contrasts,
    }


L2 = {
    "l2-0.001": {"val_loss": 0.15, "train_loss": 0.02, "train_acc": 1.0, "val_acc": 0.96},
    "l2-0.3": {"val_loss": 2.3, "train_loss": 2.3, "train_acc": 0.12, "val_acc": 0.1},
}


def test_claim_gap_held_only_for_the_measure_that_shrank():
    doc = _doc({"none": {}, **L2})
    assert claims_of.claim_gap(index(doc)).verdict == "held"
    # accuracy gap unchanged (train 100%, val 95% in both): depends on the measure
    same_acc = _doc({"none": {}, **L2, "l2-0.001": L2["l2-0.001"] | {"val_acc": 0.95}})
    assert claims_of.claim_gap(index(same_acc)).verdict.startswith(
        "depends on the measure: held for the loss gap"
    )
    # one seed where the loss gap grew: not "every seed", so the loss side no longer holds
    worse = _doc({"none": {}, **L2, "l2-0.001": L2["l2-0.001"] | {"val_loss": [0.15, 0.15, 0.3]}})
    verdict = claims_of.claim_gap(index(worse)).verdict
    assert verdict == "depends on the measure: held for the accuracy gap, not for the loss gap"
    # the loss gap shrinks only because training got worse (validation loss up): not held
    underfit = {"val_loss": 0.25, "train_loss": 0.2, "train_acc": 1.0, "val_acc": 0.95}
    verdict = claims_of.claim_gap(index(_doc({"none": {}, "l2-0.001": underfit})))
    assert verdict.verdict == "did not hold"


def test_claim_underfit_needs_the_training_accuracy_to_fall():
    study = index(_doc({"none": {}, **L2}))
    found = claims_of.claim_underfit(study)
    assert found.verdict == "held" and found.strongest == "l2-0.3"
    assert "λ=0.3" in study_md.word_underfit(study, found).evidence
    mild = _doc({"none": {}, **L2, "l2-0.3": {"train_acc": 0.97, "val_acc": 0.94}})
    assert claims_of.claim_underfit(index(mild)).verdict.startswith("did not hold")


def test_claim_sparsity_distinguishes_proximal_from_subgradient_l1():
    base = {"none": {}, **L2, "l1-0.001": {"small_frac": 0.8}, "l1_prox-0.001": {"zero_frac": 0.3}}
    study = index(_doc(base))
    found = claims_of.claim_sparsity(study)
    assert found.verdict.startswith("depends on how L1 is applied") and found.prox_zero == 0.3
    assert "L1 proximal 30.0" in study_md.word_sparsity(study, found).evidence
    both_sparse = base | {"l1-0.001": {"zero_frac": 0.2}}
    verdict = claims_of.claim_sparsity(index(_doc(both_sparse))).verdict
    assert verdict == "held, for both the subgradient and the proximal step"
    none_sparse = base | {"l1_prox-0.001": {"zero_frac": 0.0}}
    verdict = claims_of.claim_sparsity(index(_doc(none_sparse))).verdict
    assert verdict == "did not hold"


def test_claim_same_model_compares_the_final_weights_at_the_same_lambda():
    names = {"none": {}, **L2, "adam": {}, "adam_l2-0.001": {}, "adamw-0.001": {},
             "adam_l2-0.01": {}, "adamw-0.01": {}}  # fmt: skip
    study = index(_doc(names, contrast_diff=0.5))
    far = claims_of.claim_same_model(study)
    assert far.verdict.startswith("did not hold") and all(c.different for c in far.contrasts)
    assert "50%–50%" in study_md.word_same_model(study, far).evidence
    assert "AdamW stays closer to plain Adam" in far.verdict
    near = claims_of.claim_same_model(index(_doc(names, contrast_diff=0.02)))
    assert near.verdict == "held"
    mixed = {"adamw-0.001": 0.02, "adamw-0.01": 0.5}
    split = claims_of.claim_same_model(index(_doc(names, contrast_diff=mixed)))
    assert split.verdict == "depends on λ"


BENCH = [p for p in bench_runs(REPO / "results" / "cpu-amd-epyc-2t") if "_default_" in p.name]


@pytest.mark.skipif(not BENCH, reason="no published bench run")
def test_claim_cost_reads_the_bench_run_and_flips_when_l2_loss_costs_nothing():
    run = load_run(BENCH[-1], "cpu-amd-epyc-2t")
    claim, rows = word_cost(claims_of.claim_cost(run))
    assert rows and "torch: l2_loss / weight_decay" in claim.evidence
    cells = claims_of.cost_cells(run)
    assert len(cells) == len({(c.framework, c.optimizer, c.implementation, c.params)
                              for c in cells})  # fmt: skip
    base = {(r.framework, r.optimizer, r.implementation, r.params): r
            for r in run.results if r.kind == "train"
            and r.rule == claims_of.BASE_RULE[r.framework]}  # fmt: skip
    free = [
        dataclasses.replace(r, median=base[r.framework, r.optimizer, r.implementation,
                                           r.params].median)
        if r.kind == "train" and r.rule == "l2_loss" and r.optimizer != "adamw" else r
        for r in run.results
    ]  # fmt: skip
    flipped, _ = word_cost(claims_of.claim_cost(dataclasses.replace(run, results=tuple(free))))
    assert flipped.verdict == "did not hold"
    assert "slower beyond noise in 0" in flipped.evidence
    missing, _ = word_cost(claims_of.claim_cost(None))
    assert missing.verdict == "not measured"
    no_train = dataclasses.replace(run, results=tuple(r for r in run.results if r.kind != "train"))
    assert word_cost(claims_of.claim_cost(no_train))[0].verdict == "not measured"
    # torch slower everywhere, JAX's l2_loss steps made free: the verdict splits by framework
    half = [
        dataclasses.replace(r, median=base[r.framework, r.optimizer, r.implementation,
                                           r.params].median)
        if r.kind == "train" and r.rule == "l2_loss" and r.framework == "jax"
        and r.optimizer != "adamw" else r
        for r in run.results
    ]  # fmt: skip
    split, _ = word_cost(claims_of.claim_cost(dataclasses.replace(run, results=tuple(half))))
    assert split.verdict.startswith("depends on the framework:")
    assert "did not hold in jax" in split.verdict


# ---------------------------------------------------------------- the command line

SMALL = "none,l2-0.001,l2-0.3,l1-0.001,l1_prox-0.001,dropout-0.2,adam,adam_l2-0.001,adamw-0.001,bn"


def _tables(markdown: str) -> str:
    """Everything but the footer (which names the time, the duration and the input file)."""
    return markdown.split("## How it was run")[0]


@pytest.mark.slow
def test_study_end_to_end_writes_json_markdown_and_plots(tmp_path, capsys):
    adapter_class("torch"), adapter_class("jax")
    pytest.importorskip("matplotlib")
    args = ["study", "--epochs", "2", "--seeds", "1", "--conditions", SMALL, "--out",
            str(tmp_path), "--results", str(tmp_path / "none")]  # fmt: skip
    code, out, err = run_cli(capsys, *args)
    assert code == 0, err
    progress = [line for line in err.splitlines() if line.startswith("xbench study [")]
    assert len(progress) == 26 and progress[-1].startswith("xbench study [26/26] 0:")
    assert sum("stability seed 0" in line for line in progress) == 6  # float32 vs float64
    assert not any("epoch " in line for line in progress)  # the epoch counter: a bar's only
    saved = sorted((tmp_path / "runs").glob("*_custom_*.json"))
    assert len(saved) == 1
    doc = study_run.load(saved[0])
    assert doc.settings.epochs == 2 and len(doc.runs) == 20
    assert len(doc.stability) == 18 and {c.steps for c in doc.stability} == {16}
    assert len(doc.runs[0].history["val_acc"]) == 3  # before training, then each epoch
    first = (tmp_path / "STUDY.md").read_text()
    for claim in ("Weight decay reduces overfitting", "Too much weight decay underfits",
                  "exactly zero", "cheaper than writing L2", "AdamW",
                  "Batch normalization speeds up", "numerically more stable",
                  "## Numerical stability"):  # fmt: skip
        assert claim in first
    assert "no bench run found" in first  # --results pointed nowhere: said, not invented
    for png in study_plots.PLOTS.values():
        assert (tmp_path / png).stat().st_size > 10_000


@pytest.mark.long  # the same small study twice (~16 s): make robustness, CI
def test_a_study_run_again_keeps_the_first_and_repeats_its_tables_exactly(tmp_path, capsys):
    adapter_class("torch"), adapter_class("jax")
    pytest.importorskip("matplotlib")
    args = ["study", "--epochs", "2", "--seeds", "1", "--conditions", SMALL, "--out",
            str(tmp_path), "--results", str(tmp_path / "none")]  # fmt: skip
    tables = []
    for _ in range(2):
        code, _, err = run_cli(capsys, *args)
        assert code == 0, err
        tables.append(_tables((tmp_path / "STUDY.md").read_text()))
    assert len(sorted((tmp_path / "runs").glob("*.json"))) == 2  # the first one kept
    assert tables[0] == tables[1]


def test_study_cli_refuses_bad_input_in_one_line(tmp_path, capsys):
    cases = [
        (["--render", str(tmp_path / "missing.json")], "no such study file"),
        (["--render", str(tmp_path)], "is a directory"),
        (["--conditions", "none,l2-7"], "unknown condition 'l2-7'; valid: none, l2-0.0001"),
        (["--conditions", "l1-0.001"], "must include 'none' and at least one l2-*"),
        (["--epochs", "0"], "invalid --epochs 0"),
        (["--threads", "999"], "invalid --threads 999"),
        (["--out", str(tmp_path / "file.txt")], "is a file; give a folder"),
    ]
    (tmp_path / "file.txt").write_text("x")
    bench = tmp_path / "bench.json"
    bench.write_text("{}")
    cases.append((["--bench", str(bench)], "bench.json"))
    not_study = tmp_path / "other" / "runs" / "x.json"
    not_study.parent.mkdir(parents=True)
    not_study.write_text(json.dumps({"benchmarks": []}))
    cases.append((["--render", str(not_study)], "not an xbench study file"))
    for argv, message in cases:
        code, out, err = run_cli(capsys, "study", *argv)
        assert code == 2, (argv, err)
        assert message in err and len(err.strip().splitlines()) == 1, (argv, err)
        assert "Traceback" not in err


def test_render_refuses_what_it_cannot_render_in_one_line(tmp_path, capsys):
    source = sorted((PUBLISHED / "runs").glob("*_full_*.json"))
    if not source:
        pytest.skip("no published study")
    doc = json.loads(source[-1].read_text())
    broken = dict(doc, runs=[r for r in doc["runs"] if r["framework"] == "torch"])
    path = tmp_path / "runs" / "broken.json"
    path.parent.mkdir()
    path.write_text(json.dumps(broken))
    code, _, err = run_cli(capsys, "study", "--render", str(path))
    assert code == 2 and "no jax run of none for seed 0" in err and len(err.splitlines()) == 1
    no_l2 = dict(doc, conditions=[c for c in doc["conditions"] if c["family"] != "l2"])
    path.write_text(json.dumps(no_l2))
    code, _, err = run_cli(capsys, "study", "--render", str(path))
    assert code == 2 and "at least one l2-* condition" in err
    path.write_text(json.dumps(dict(doc, settings={"seeds": [0], "epochs": 150})))
    code, _, err = run_cli(capsys, "study", "--render", str(path))
    assert code == 2 and "settings without small, histogram_edges" in err
    code, _, err = run_cli(capsys, "study", "--render", str(source[-1]), "--quick")
    assert code == 2 and "--render trains nothing; --quick" in err
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine\n")
    code, _, err = run_cli(capsys, "study", "--render", str(source[-1]), "--out", str(a_file))
    assert code == 2 and "is a file; give a folder" in err and a_file.read_text() == "mine\n"
    path.write_text(json.dumps(dict(doc, bench_run={"x": 1})))
    code, _, err = run_cli(capsys, "study", "--render", str(path))
    assert code == 2 and "bench_run {'x': 1} is not a file path" in err
    assert len(err.strip().splitlines()) == 1
    assert not list(tmp_path.glob("*.md"))


def test_readme_takes_the_full_study_only(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(f"{study_md.CLAIMS_START}\n{study_md.CLAIMS_END}\n")
    code, _, err = run_cli(capsys, "study", "--quick", "--readme", str(readme), "--out",
                           str(tmp_path / "q"))  # fmt: skip
    assert code == 2 and "--readme quotes the full study only" in err
    assert not (tmp_path / "q").exists()


def test_a_diverging_run_stops_the_study_in_one_line(tmp_path, capsys, monkeypatch):
    adapter_class("torch")
    real = training.evaluate

    def exploding(params, data, *model_and_stats):
        return real(params, data, *model_and_stats) | {"train_loss": float("nan")}

    monkeypatch.setattr(training, "evaluate", exploding)
    code, _, err = run_cli(capsys, "study", "--epochs", "1", "--seeds", "1", "--conditions",
                           "none,l2-0.001", "--out", str(tmp_path))  # fmt: skip
    assert code == 1
    assert err.strip().endswith("none diverged in torch (seed 0) at epoch 1; nothing was saved: "
                                "lower the learning rate in xbench/study/conditions.py or "
                                "drop the condition with --conditions")  # fmt: skip
    assert not (tmp_path / "runs").exists()


def test_a_study_md_not_written_by_xbench_is_kept(tmp_path, capsys):
    mine = tmp_path / "STUDY.md"
    mine.write_text("my notes\n")
    code, _, err = run_cli(capsys, "study", "--quick", "--out", str(tmp_path))
    assert code == 2 and "refusing to overwrite" in err
    assert mine.read_text() == "my notes\n" and not (tmp_path / "runs").exists()


def test_list_takes_the_chosen_conditions_and_refuses_unknown_ones(capsys):
    code, out, _ = run_cli(capsys, "study", "--list", "--conditions", "none,l2-0.01")
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == ["none", "l2-0.01"]
    code, _, err = run_cli(capsys, "study", "--list", "--conditions", "foo")
    assert code == 2 and "unknown condition 'foo'" in err


def test_list_names_every_condition_with_each_frameworks_rule(capsys):
    code, out, _ = run_cli(capsys, "study", "--list")
    assert code == 0
    assert len(out.strip().splitlines()) == len(conditions.CONDITIONS)
    assert re.search(r"l2-0\.01 .* rule \(torch / jax\): weight_decay / add_decayed_weights", out)


def test_importing_the_study_loads_no_framework():
    heavy = "('torch', 'jax', 'matplotlib', 'sklearn')"
    code = (
        "import sys, xbench.study.job, xbench.present.study_md, xbench.analysis.study; "
        f"print(sorted(m for m in {heavy} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------- the published study


@pytest.mark.skipif(not (PUBLISHED / "STUDY.md").exists(), reason="no published study")
def test_committed_study_md_regenerates_byte_identical(monkeypatch, tmp_path, capsys):
    """The command the page's footer prints rebuilds the page and its plots, byte for byte."""
    monkeypatch.chdir(REPO)  # the page names its inputs relative to the repository
    committed = (PUBLISHED / "STUDY.md").read_text()
    command = re.search(r"Regenerate this page: `xbench (study --render [^`]+)`", committed)
    code, _, err = run_cli(capsys, *command.group(1).split(), "--out", str(tmp_path))
    assert code == 0, err
    assert (tmp_path / "STUDY.md").read_text() == committed
    for png in study_plots.PLOTS.values():
        assert (tmp_path / png).read_bytes() == (PUBLISHED / png).read_bytes(), png
    doc = study_run.load(Path(command.group(1).split()[2]))
    assert doc.profile == "full" and len(doc.settings.seeds) == 5


@pytest.mark.skipif(not (PUBLISHED / "STUDY.md").exists(), reason="no published study")
def test_the_study_page_quotes_the_published_claims_table():
    page = (REPO / "docs" / "study.md").read_text()
    start = page.index(study_md.CLAIMS_START) + len(study_md.CLAIMS_START)
    block = page[start : page.index(study_md.CLAIMS_END)]
    table = block.strip().split("\n\n")[0]
    assert table.startswith("| claim") and table.count("\n") >= 5
    assert table in (PUBLISHED / "STUDY.md").read_text()


def test_claims_whose_conditions_were_not_run_say_so():
    found, _ = study_md.claims(index(_doc({"none": {}, **L2})), None)
    verdicts = {c.claim: c.verdict for c in found}
    assert verdicts[study_md.SPARSITY] == "not measured"
    assert verdicts[study_md.SAME_MODEL] == "not measured"
    assert verdicts[study_md.BATCH_NORM] == verdicts[study_md.COMBINED] == "not measured"
    assert list(verdicts.values())[:2] == ["held", "held"]


# ---------------------------------------------------------------- batch norm, combinations


def with_curves(doc: dict, curves: dict) -> dict:
    """``doc`` with each named condition's validation-loss curve, {name: per-seed curves}."""
    for run in doc["runs"]:
        if run["condition"] in curves:
            curve = curves[run["condition"]][doc["settings"]["seeds"].index(run["seed"])]
            run["history"] = {k: [v[0]] * len(curve) for k, v in run["history"].items()}
            run["history"]["val_loss"] = list(curve)
    return doc


NONE_CURVES = [
    [2.0, 0.6, 0.4, 0.3, 0.2, 0.2],
    [2.0, 0.7, 0.5, 0.3, 0.2, 0.19],
    [2.0, 0.6, 0.45, 0.28, 0.21, 0.2],
]  # fmt: skip  reaches 0.25 at epoch 4


def test_claim_batch_norm_holds_for_speed_and_for_stability_only_on_its_rule():
    fast_steady = [[2.0, 0.3, 0.2, 0.2, 0.2, 0.18]] * 3  # epoch 2, the same in every seed
    doc = with_curves(_doc({"none": {}, "bn": {}}), {"none": NONE_CURVES, "bn": fast_steady})
    found = claims_of.claim_batch_norm(index(doc))
    assert found.verdict == "held" and found.faster.all() and found.steadier
    np.testing.assert_array_equal(found.epochs["bn"], 2)
    np.testing.assert_array_equal(found.epochs["none"][0], [4, 4, 4])
    scattered = [
        [2.0, 0.2, 0.1, 0.5, 0.1, 0.9],
        [2.0, 0.2, 0.9, 0.1, 0.9, 0.1],
        [2.0, 0.2, 0.5, 0.5, 0.5, 0.5],
    ]  # fmt: skip  fast, but unsteady
    doc = with_curves(_doc({"none": {}, "bn": {}}), {"none": NONE_CURVES, "bn": scattered})
    assert claims_of.claim_batch_norm(index(doc)).verdict.startswith(
        "held for speed; stability not shown: the spread across seeds changed ×"
    )
    twice_as_steady = [[2.0, 0.3, 0.2, 0.2, 0.2, 0.2 + d] for d in (0.0, 0.001, 0.002)]
    doc = with_curves(_doc({"none": {}, "bn": {}}), {"none": NONE_CURVES, "bn": twice_as_steady})
    assert claims_of.claim_batch_norm(index(doc)).steadier  # sd mean 0.0002 vs ~0.02
    less_than_twice = [[2.0] + [0.8 * v for v in c[1:]] for c in NONE_CURVES]  # spread ×0.8
    doc = with_curves(_doc({"none": {}, "bn": {}}), {"none": NONE_CURVES, "bn": less_than_twice})
    found = claims_of.claim_batch_norm(index(doc))
    assert found.faster.all() and found.steadier is False
    assert not found.verdict.endswith("higher validation loss")
    ends_higher = [c[:-1] + [0.3] for c in twice_as_steady]
    doc = with_curves(_doc({"none": {}, "bn": {}}), {"none": NONE_CURVES, "bn": ends_higher})
    assert claims_of.claim_batch_norm(index(doc)).verdict == (
        "held; it ends at a higher validation loss"
    )
    slow_once = [fast_steady[0], fast_steady[0], [2.0, 0.6, 0.45, 0.28, 0.26, 0.24]]
    doc = with_curves(_doc({"none": {}, "bn": {}}), {"none": NONE_CURVES, "bn": slow_once})
    found = claims_of.claim_batch_norm(index(doc))
    assert list(found.faster) == [True, True, False] and found.verdict != "held"
    one_seed = with_curves(_doc({"none": {}, "bn": {}}, seeds=(0,)),
                           {"none": NONE_CURVES[:1], "bn": fast_steady[:1]})  # fmt: skip
    assert claims_of.claim_batch_norm(index(one_seed)).verdict == (
        "held for speed; stability needs two seeds or more"
    )
    never = [[2.0, 1.0, 0.5, 0.9, 0.6, 1.2], [2.0, 0.4, 1.5, 0.5, 1.6, 0.3], [1.0] * 6]
    doc = with_curves(_doc({"none": {}, "bn": {}}), {"none": NONE_CURVES, "bn": never})
    found = claims_of.claim_batch_norm(index(doc))
    assert found.verdict == "did not hold" and np.isinf(found.epochs["bn"]).all()


COMBINED = "dropout_l2-0.2-0.001"


def test_claim_combination_compares_with_the_best_single_regularizer():
    singles = {"none": {}, "l2-0.001": {"val_loss": 0.15}, "l2-0.01": {"val_loss": 0.2},
               "dropout-0.2": {"val_loss": 0.18}, "dropout-0.5": {"val_loss": 0.25}}  # fmt: skip
    better = claims_of.claim_combination(index(_doc(singles | {COMBINED: {"val_loss": 0.14}})))
    assert better.verdict == "held" and better.best_single == "l2-0.001" and not better.mismatch
    worse = claims_of.claim_combination(index(_doc(singles | {COMBINED: {"val_loss": 0.16}})))
    assert worse.verdict.startswith("did not hold: higher validation loss than L2")
    mixed = {COMBINED: {"val_loss": [0.14, 0.16, 0.14]}}
    assert claims_of.claim_combination(index(_doc(singles | mixed))).verdict.startswith(
        "no clear difference"
    )
    moved = singles | {"l2-0.01": {"val_loss": 0.1}, COMBINED: {"val_loss": 0.14}}
    found = claims_of.claim_combination(index(_doc(moved)))
    assert found.verdict.startswith("not measured as stated (the best L2 alone is λ=0.01); at ")
    assert found.verdict.endswith(
        "did not hold: higher validation loss than L2 (weight decay) λ=0.01 in every seed"
    )


# ---------------------------------------------------------------- float32 stability


def _cell(framework, optimizer, mechanism, error, seed=0, tiny=False, kept=1.0):
    """A stability cell whose error is ``error`` at every checkpoint (steps 50 and 100)."""
    rule = mechanism if framework == "torch" or mechanism == "l2_loss" else "add_decayed_weights"
    return study_run.StabilityCell(
        framework, optimizer, mechanism, rule, 1e-3, 0.05, seed, 100, (50, 100),
        (error / 2, error), tiny, decay_effect=1e-6, decay_effect_f32=kept * 1e-6,
    )  # fmt: skip


def _cells(ratio: dict, seeds=(0, 1, 2)) -> tuple:
    """Every framework × optimizer with both mechanisms: L2's error ``ratio[(framework,
    optimizer)]`` times weight_decay's (1e-6)."""
    return tuple(
        _cell(f, o, m, 1e-6 * (ratio.get((f, o), 1.0) if m == "l2_loss" else 1.0), seed)
        for seed in seeds for f in ("torch", "jax") for o in ("momentum", "adam")
        for m in ("weight_decay", "l2_loss")
    )  # fmt: skip


def test_stability_record_round_trips_through_json_and_a_bad_cell_is_refused(tmp_path):
    source = sorted((PUBLISHED / "runs").glob("*_full_*.json"))
    if not source:
        pytest.skip("no published study")
    cells = (*_cells({}, seeds=(0,)), _cell("torch", "adamw", "weight_decay", 3e-6, tiny=True))
    run = study_run.load(source[-1]).replace(stability=cells)
    doc = study_run.to_document(run)
    assert doc["stability"][0]["lambda"] == 1e-3 and "lam" not in doc["stability"][0]
    path = tmp_path / "runs" / "with.json"
    path.parent.mkdir()
    path.write_text(study_run.to_text(run))
    back = study_run.load(path)
    assert back.stability == cells and back == run
    assert back.stability[-1].tiny and back.stability[-1].final == 3e-6
    bad = json.loads(path.read_text())
    bad["stability"][0]["rel_error"] = [1e-6]
    path.write_text(json.dumps(bad))
    with pytest.raises(UsageError) as raised:
        study_run.load(path)
    assert "not one error per checkpoint" in str(raised.value)


BEFORE_BATCH_NORM = PUBLISHED / "runs" / "20261121T155537Z_full_ea8a85b.json"  # 5 claims


@pytest.mark.skipif(not BEFORE_BATCH_NORM.exists(), reason="no published study of that time")
def test_a_study_file_from_before_the_new_claims_loads_and_says_what_it_did_not_measure():
    assert "stability" not in json.loads(BEFORE_BATCH_NORM.read_text())
    run = study_run.load(BEFORE_BATCH_NORM)
    assert run.stability == () and "stability" not in study_run.to_document(run)
    found, _ = study_md.claims(StudyIndex(run), None)
    verdicts = {c.claim: c.verdict for c in found}
    for claim in (study_md.STABILITY, study_md.BATCH_NORM, study_md.COMBINED):
        assert verdicts[claim] == "not measured"
    assert list(verdicts.values())[1] == "held"  # the claims it did measure, as before
    page = study_md.render(run, None, BEFORE_BATCH_NORM, plots=False)
    assert "Numerical stability" not in page and "batch-norm conditions" not in page


def test_claim_stability_holds_only_where_l2_is_clearly_less_stable():
    everywhere = {(f, o): 3.0 for f in ("torch", "jax") for o in ("momentum", "adam")}
    held = claims_of.claim_stability(_cells(everywhere))
    assert held.verdict == "held" and all(p.verdict == claims_of.MORE for p in held.pairs)
    assert len(held.pairs) == 4 and held.pairs[0].ratio == pytest.approx(3.0)
    claim = study_md.word_stability(held)
    assert (
        claim.claim == study_md.STABILITY and "torch momentum 1.0e-06 vs 3.0e-06" in claim.evidence
    )
    same = claims_of.claim_stability(_cells({}))
    assert same.verdict == "did not hold: as stable in every framework × optimizer"
    # inside the factor of 2 either way: as stable
    near = claims_of.claim_stability(_cells({k: 1.9 for k in everywhere}))
    assert near.verdict.startswith("did not hold") and not near.tiny
    reverse = claims_of.claim_stability(_cells({("jax", "adam"): 1 / 3}))
    assert reverse.verdict == "did not hold: L2 in the loss is more stable in jax adam"
    mixed = claims_of.claim_stability(_cells({("torch", "momentum"): 3.0}))
    assert mixed.verdict == "mixed: more stable in torch momentum"
    # the median over seeds decides: one seed 3× worse is not enough
    one_seed = _cells({}, seeds=(1, 2)) + _cells(everywhere, seeds=(0,))
    assert claims_of.claim_stability(one_seed).verdict.startswith("did not hold")


def test_claim_stability_quotes_a_lost_tiny_decay_and_says_when_nothing_was_measured():
    tiny = (
        _cell("torch", "adamw", "weight_decay", 3e-6, tiny=True, kept=0.0),
        _cell("jax", "adamw", "weight_decay", 8e-7, tiny=True, kept=0.99),
    )
    found = claims_of.claim_stability(_cells({}) + tiny)
    assert [t.lost for t in found.tiny] == [True, False]
    assert found.verdict.endswith(
        "float32 loses the decay in torch adamw weight_decay (decoupled: w·(1 − ηλ) rounds to w)"
    )
    coupled = tiny + (_cell("torch", "momentum", "l2_loss", 1e-6, tiny=True, kept=1.0),)
    assert claims_of.claim_stability(_cells({}) + coupled).verdict.endswith(
        "; the coupled decay and L2 in the loss are both kept"
    )
    evidence = study_md.word_stability(found).evidence
    assert "torch AdamW weight_decay keeps 0% of the decay's float64 effect" in evidence
    nothing = claims_of.claim_stability(())
    assert nothing.verdict == "not measured"
    assert study_md.word_stability(nothing).verdict == "not measured"


def test_relative_error_is_zero_against_itself_and_grows_with_a_perturbation():
    from xbench.study import stability

    problem = digits.make_problem(digits.load_digits(), 0, 1)
    params = {k: v.astype(np.float64) for k, v in problem.params.items()}
    assert stability.relative_error(params, params) == 0.0
    moved = dict(params, **{"dense0/bias": params["dense0/bias"] + 1e-3})
    expected = np.sqrt(len(params["dense0/bias"])) * 1e-3 / np.linalg.norm(stability.flat(params))
    assert stability.relative_error(moved, params) == pytest.approx(expected, rel=1e-9)
    assert stability.checkpoints(120) == (50, 100, 120) and stability.checkpoints(16) == (16,)


def test_a_short_run_keeps_float32_close_and_shows_torch_adamw_losing_a_tiny_decay():
    """100 steps: every coupled mechanism within 1e-4 of the float64 reference; at ηλ = 1e-8
    float32 torch AdamW's weights do not move at all (its error is the decay's whole float64
    effect), optax.adamw's move as float64's do."""
    adapter_class("torch"), adapter_class("jax")
    from xbench.study import stability

    def wanted(spec):
        return not spec.tiny or spec.optimizer == "adamw"

    cells = stability.run_seed(digits.load_digits(), 0, 100, only=wanted)
    main = [c for c in cells if not c.tiny]
    assert len(main) == 8 and {c.checkpoints for c in cells} == {(50, 100)}
    for c in main:
        assert np.all(np.isfinite(c.rel_error)) and 0 < c.final < 1e-4, c
        assert c.decay_effect_f32 == pytest.approx(c.decay_effect, rel=1e-3), c
    torch, jax = (next(c for c in cells if c.tiny and c.framework == f) for f in ("torch", "jax"))
    assert torch.lam * torch.lr == pytest.approx(1e-8) and torch.rule == "weight_decay"
    assert torch.decay_effect_f32 == 0.0 and torch.decay_effect > 0
    assert 0.7 < torch.final / torch.decay_effect < 1.5
    assert 0.5 < jax.decay_effect_f32 / jax.decay_effect < 2 and jax.final < torch.final / 2
    found = claims_of.claim_stability(tuple(cells))
    assert [t.lost for t in found.tiny] == [True, False]
