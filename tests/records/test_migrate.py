"""``xbench migrate``: a results folder of an older layout, renamed and labelled, nothing
lost."""

import json

from tests.helpers import bench, run_cli, write_run
from xbench.records import layout
from xbench.records.bench_run import SELF_TEST, SELF_TEST_KIND
from xbench.records.bench_run import load as load_run


def old_results(tmp_path):
    """Two bench runs and a check in the old layout, the self-test among the benchmarks."""
    results = tmp_path / "results"
    box = results / "box"
    perturbed = bench(kind="overhead", impl="fused", params=10**4)
    perturbed["extra_info"].update(kind=SELF_TEST_KIND, id="overhead-perturbed")
    for name in ("20261121T110000Z_default_bbbbbbb.json", "20261121T100000Z_quick_aaaaaaa.json"):
        path = write_run(box, name, [bench(impl="fused"), bench(framework="jax", impl="jit"),
                                     perturbed])  # fmt: skip
        doc = json.loads(path.read_text())
        for b in doc["benchmarks"]:
            b.update(group=None, params={"bench_case": "UNSERIALIZABLE[BenchCase(...)]"})
        path.write_text(json.dumps(doc))
    (box / "20261121T100500Z_check_aaaaaaa.json").write_text('{"format": "xbench-check/1"}')
    stability = results / "stability" / "box"
    write_run(stability, "20261121T090000Z_quick_ccccccc.json", [bench(impl="forloop")])
    return results


def test_migrate_renames_labels_and_moves_without_changing_a_number(capsys, tmp_path):
    results = old_results(tmp_path)
    before = {p.name: json.loads(p.read_text()) for p in (results / "box").glob("*_*_*.json")}
    code, out, err = run_cli(capsys, "migrate", "--results", str(results))
    assert code == 0, err
    assert "4 file(s) moved" in out
    runs = layout.bench_runs(results / "box")
    assert [p.name for p in runs] == [  # numbered in time order
        "0001_aaaaaaa_quick_20261121T100000Z.json",
        "0002_bbbbbbb_default_20261121T110000Z.json",
    ]
    assert sorted(p.name for p in (results / "box").iterdir()) == [p.name for p in runs]
    check = results / layout.CHECKS / "box" / "20261121T100500Z_check_aaaaaaa.json"
    assert check.read_text() == '{"format": "xbench-check/1"}'
    assert [p.name for p in layout.bench_runs(results / "stability" / "box")] == [
        "0001_ccccccc_quick_20261121T090000Z.json"
    ]
    old = before["20261121T110000Z_default_bbbbbbb.json"]
    new = json.loads(runs[1].read_text())
    assert [b["stats"] for b in new["benchmarks"] + new[SELF_TEST]] == [
        b["stats"] for b in old["benchmarks"]
    ]
    assert new["benchmarks"][0]["group"] == "update/adamw/decoupled decay/1e6/one"
    assert new["benchmarks"][0]["params"]["framework"] == "torch"
    assert [b["extra_info"]["kind"] for b in new[SELF_TEST]] == [SELF_TEST_KIND]
    assert len(load_run(runs[1]).results) == 3  # the self-test still reads back

    for dry in ([], ["--dry-run"]):
        code, out, _ = run_cli(capsys, "migrate", "--results", str(results), *dry)
        assert code == 0 and "already in the current layout" in out


def test_a_dry_run_moves_nothing_and_a_taken_name_stops_it_before_any_move(capsys, tmp_path):
    results = old_results(tmp_path)
    names = sorted(p.name for p in (results / "box").iterdir())
    code, out, _ = run_cli(capsys, "migrate", "--results", str(results), "--dry-run")
    assert code == 0 and "-> " in out
    assert sorted(p.name for p in (results / "box").iterdir()) == names
    taken = results / layout.CHECKS / "box" / "20261121T100500Z_check_aaaaaaa.json"
    taken.parent.mkdir(parents=True)
    taken.write_text("mine")
    code, _, err = run_cli(capsys, "migrate", "--results", str(results))
    assert code == 2 and "a file is there" in err
    assert sorted(p.name for p in (results / "box").iterdir()) == names
    assert taken.read_text() == "mine"
