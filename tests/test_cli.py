"""The `jaxmem` command line: output format, JSON, exit codes, --reproduce, bad arguments."""

import dataclasses
import json
import os

import numpy as np
import pytest

import jaxmem.claims
from jaxmem import cli
from jaxmem.sweep import expand
from jaxmem import claims as C
from jaxmem.verify import yu2024_hardness
from jaxmem.verify import zhang2017 as zhang_claims
from tests.test_verify import perturbed_trial, _data


@pytest.fixture
def broken_registry(monkeypatch):
    grid = expand(n=[16], d=[2], datasets=6)
    broken = C.Claim(id="test.broken", citation="test", statement="one weight perturbed",
                     trial=perturbed_trial, grids=dict(quick=grid, full=grid),
                     rule=C.Universal(), dataset=_data)
    small = dataclasses.replace(zhang_claims.LEMMA1, grids=dict(
        quick=expand(n=[4], d=[2], datasets=4), full=expand(n=[4], d=[2], datasets=4)))
    monkeypatch.setattr(jaxmem.claims, "all_claims", lambda: [small, broken])
    C.register(broken)     # registered, so that its --reproduce hint is the CLI's
    yield broken
    C.CLAIMS.remove(broken.id)


@pytest.mark.slow
def test_verify_json_and_exit_codes(broken_registry, capsys):
    assert cli.main(["verify", "--claim", "zhang2017.lemma1", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == ["zhang2017.lemma1"]
    for key in ("id", "verdict", "n_datasets", "pass_rate", "ci_low", "ci_high", "seconds"):
        assert key in rows[0]
    assert rows[0]["verdict"] == "HOLDS" and rows[0]["n_datasets"] == 4

    assert cli.main(["verify"]) == 1                      # a VIOLATED claim fails the run
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert lines[0].split()[:3] == ["claim", "datasets", "pass"]
    broken_line = next(line for line in lines if line.startswith("test.broken"))
    assert "VIOLATED" in broken_line and "--reproduce test.broken --index 0" in broken_line


def test_reproduce_prints_and_saves(broken_registry, capsys, tmp_path):
    path = tmp_path / "cex.npz"
    assert cli.main(["verify", "--reproduce", "test.broken", "--index", "2",
                     "--save", str(path)]) == 1
    out = capsys.readouterr().out
    assert "FAILS" in out and "index 2" in out and "seed 0" in out
    saved = np.load(path)
    assert saved["X"].shape == (16, 2) and saved["y"].shape == (16,)
    assert cli.main(["verify", "--reproduce", "test.broken", "--index", "2", "--json"]) == 1
    rec = json.loads(capsys.readouterr().out)
    assert rec["passed"] is False and rec["index"] == 2


def test_usage_errors(broken_registry, capsys):
    assert cli.main(["verify", "--claim", "no.such"]) == 2
    assert "unknown claim" in capsys.readouterr().err
    assert cli.main(["verify", "--reproduce", "test.broken"]) == 2
    assert "--index" in capsys.readouterr().err
    assert cli.main(["verify", "--reproduce", "test.broken", "--index", "99"]) == 2
    assert "out of range" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        cli.main(["verify", "--scale", "huge"])
    assert exc.value.code == 2
    assert cli.main(["verify", "--list"]) == 0
    assert "test.broken" in capsys.readouterr().out


def test_help_is_useful(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    assert "verify" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["verify", "--help"])
    text = capsys.readouterr().out
    for flag in ("--claim", "--scale", "--json", "--seed", "--list", "--reproduce", "--index"):
        assert flag in text


def test_verify_writes_verdicts_to_the_store(broken_registry, capsys):
    from jaxmem.store import Store

    assert cli.main(["verify"]) == 1
    capsys.readouterr()
    with Store(os.environ["JAXMEM_STORE"], readonly=True) as store:
        run = store.runs()[-1]
        verdicts = {v["claim"]: v for v in store.verdicts(run["run_id"])}
    assert run["kind"] == "verify" and run["status"] == "done"
    assert verdicts["zhang2017.lemma1"]["verdict"] == "HOLDS"
    assert verdicts["test.broken"]["verdict"] == "VIOLATED"
    assert verdicts["test.broken"]["n_datasets"] == 6
    assert cli.main(["verify", "--no-store", "--claim", "zhang2017.lemma1"]) == 0
    with Store(os.environ["JAXMEM_STORE"], readonly=True) as store:
        assert len(store.runs()) == 1


@pytest.mark.slow
def test_sweep_and_results_commands(tmp_path, capsys):
    # Two configs that differ only in a traced option (theta): one compiled program.
    grid = tmp_path / "g.toml"
    grid.write_text('name = "tiny"\nconstruction = "zhang2017"\ndatasets = 3\nchunk_size = 2\n'
                    '[axes]\nn = [5]\nd = [2]\ntheta = [0.01, 0.02]\n')
    store = str(tmp_path / "s.sqlite")
    assert cli.main(["sweep", str(grid), "--store", store, "--json", "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["configs"], summary["written"], summary["skipped"]) == (2, 6, 0)
    assert cli.main(["sweep", str(grid), "--store", store, "--datasets", "4", "--json",
                     "--no-progress"]) == 0                       # extends: one more each
    assert json.loads(capsys.readouterr().out)["written"] == 2
    assert cli.main(["results", "list", "--store", store, "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [(r["sweep"], r["status"], r["n_records"], r["expected"]) for r in runs] == \
        [("tiny", "done", 6, 6), ("tiny", "done", 8, 8)]
    assert cli.main(["results", "show", "tiny", "--store", store]) == 0
    shown = capsys.readouterr().out
    assert "n=5, d=2, theta=0.01: 4/4 records, ok 1.000 [" in shown
    assert "n=5, d=2, theta=0.02: 4/4 records, ok 1.000 [" in shown
    assert "status             done" in shown
    out = tmp_path / "tiny.csv"
    assert cli.main(["results", "export", "tiny", "--store", store, "-o", str(out)]) == 0
    import csv
    with open(out) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8 and {r["theta"] for r in rows} == {"0.01", "0.02"}
    assert all(r["ok"] == "True" for r in rows)
    assert cli.main(["results", "show", "nope", "--store", store]) == 2
    assert "nope" in capsys.readouterr().err
    assert cli.main(["sweep", "--list"]) == 0
    assert "baum1988" in capsys.readouterr().out


def test_too_many_devices_is_refused_before_the_store(tmp_path, capsys):
    grid = tmp_path / "g.toml"
    grid.write_text('name = "t"\nconstruction = "zhang2017"\ndatasets = 2\n[axes]\nn = 4\nd = 2\n')
    store = tmp_path / "s.sqlite"
    assert cli.main(["sweep", str(grid), "--store", str(store), "--devices", "99"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--devices 99" in err[0]
    assert not store.exists()


def _two_configs():
    """A claim over a grid of two configs, 5 datasets each: yu2024.lemma_f2, among the cheapest
    to compile and run (its program draws a seed per dataset; the check runs on the host).
    What `verify --json` and `-v` show of a grid does not depend on the claim."""
    grid = expand(kmax=[20, 200], denominator=[40], datasets=5)
    return dataclasses.replace(yu2024_hardness.LEMMA_F2, grids=dict(quick=grid, full=grid))


def test_verify_shows_each_config_of_its_grid(monkeypatch, capsys):
    """--json always carries the grid; -v prints it: each config's parameters, datasets,
    passes, undecided and its own interval (not one pooled interval)."""
    claim = _two_configs()
    monkeypatch.setattr(jaxmem.claims, "all_claims", lambda: [claim])
    assert cli.main(["verify", "--json", "--no-store"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert [c["config"] for c in row["configs"]] == [dict(kmax=20, denominator=40),
                                                      dict(kmax=200, denominator=40)]
    for c in row["configs"]:
        assert c["datasets"] == 5 and c["passed"] == 5 and c["undecided"] == 0
        assert c["ci_low"] < 1 == c["ci_high"]
    assert row["n_undecided"] == 0
    assert cli.main(["verify", "-v", "--no-store"]) == 0
    out = capsys.readouterr().out
    assert "    kmax=20, denominator=40: 5/5 pass, 0 undecided, [" in out
    assert "    kmax=200, denominator=40: 5/5 pass" in out


@pytest.mark.slow
def test_results_show_prints_every_swept_option(tmp_path, capsys):
    """A grid over width and max_bias: one line per config naming both, with its pass rate
    and 95% interval; --json gives the same table."""
    grid = tmp_path / "g.toml"
    grid.write_text('name = "gz"\nconstruction = "genzel2023"\ndata = "gaussian"\n'
                    'labels = "sign"\ndatasets = 4\n[axes]\nn = [12]\nd = [2]\n'
                    'width = [5, 40]\nmax_bias = [0.5, 2.0]\n')
    store = str(tmp_path / "s.sqlite")
    assert cli.main(["sweep", str(grid), "--store", store, "--no-progress"]) == 0
    capsys.readouterr()
    assert cli.main(["results", "show", "gz", "--store", store]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "records" in line
             and "width=" in line]
    assert len(lines) == 4 and len(set(lines)) == 4
    assert all("max_bias=" in line and "ok " in line and "[" in line for line in lines)
    assert cli.main(["results", "show", "gz", "--store", store, "--json"]) == 0
    table = json.loads(capsys.readouterr().out)["configs"]
    assert sorted((c["swept"]["width"], c["swept"]["max_bias"]) for c in table) == [
        (5, 0.5), (5, 2.0), (40, 0.5), (40, 2.0)]
    for c in table:
        assert c["records"] == 4 and 0 <= c["ok"]["ci_low"] <= c["ok"]["rate"] <= c["ok"]["ci_high"]


@pytest.mark.slow
def test_verify_writes_its_records_to_the_store(monkeypatch, capsys, tmp_path):
    """Theorem 1 (its records carry `undecided`, from the exact re-decision), two configs."""
    grid = expand(n=[3, 8], d=[2], datasets=5)
    claim = dataclasses.replace(zhang_claims.THM1, grids=dict(quick=grid, full=grid))
    monkeypatch.setattr(jaxmem.claims, "all_claims", lambda: [claim])
    store = str(tmp_path / "s.sqlite")
    assert cli.main(["verify", "--store", store]) == 0
    capsys.readouterr()
    out = tmp_path / "verify.csv"
    assert cli.main(["results", "export", "verify", "--store", store, "-o", str(out)]) == 0
    assert "10 records" in capsys.readouterr().out
    from jaxmem.store import Store
    with Store(store, readonly=True) as s:
        records = s.records("verify")
    assert sorted({(r["n"], r["seed"]) for r in records}) == [(3, 0), (8, 0)]
    assert all(r["ok"] is True and r["undecided"] is False for r in records)
