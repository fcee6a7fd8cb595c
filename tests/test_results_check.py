"""spade_lesson.evaluation.results_check: a results file is read with bounds and checked field by field."""

from __future__ import annotations

import copy
import json
import os

import pytest

from spade_lesson.cli import main
from spade_lesson.evaluation.ablation import COMMITTED, MODELS, SETTINGS
from spade_lesson.evaluation.results_check import check_judge_file, check_results_document, read_results_document

COMMITTED_FILES = sorted(COMMITTED.glob("*.json"))
GOOD = json.loads((COMMITTED / "ablation_landscapes.json").read_text())


def tampered(edit) -> dict:
    document = copy.deepcopy(GOOD)
    edit(document)
    return document


TAMPERED = {
    "no weights": (lambda d: d["judges"][0].pop("weights"), "judges\\[0\\] has no 'weights'"),
    "no seed": (lambda d: d["runs"][3].pop("seed"), "runs\\[3\\] has no 'seed'"),
    "no miou": (lambda d: d["runs"][0].pop("miou"), "runs\\[0\\] has no 'miou'"),
    "miou a string": (lambda d: d["runs"][0].update(miou="0.5"), "miou='0.5' is not a finite number"),
    "seed a float": (lambda d: d["runs"][0].update(seed=1.5), "seed=1.5 is not an int"),
    "extra settings key": (lambda d: d["settings"].update(lr=1), "settings has unknown fields \\['lr'\\]"),
    "settings a list": (lambda d: d.update(settings=[1, 2]), "'settings' is list, not an object"),
    "judges a dict": (lambda d: d.update(judges={"0": 1}), "'judges' is dict, not a list"),
    "nan miou": (lambda d: d["runs"][0].update(miou=float("nan")), "miou=nan is not a finite number"),
    "miou above 1": (lambda d: d["runs"][0].update(miou=3.0), "outside \\[0, 1\\]"),
    "a judge outside judges/": (lambda d: d["judges"][0].update(weights="/etc/passwd"), "is not a judges/segmenter"),
    "an unknown model": (lambda d: d["runs"][0].update(model="gpt"), "model='gpt' is none of"),
    "a run of no judge": (lambda d: d["runs"][0].update(judge_seed=7), "judge_seed=7 is none of the judges"),
    "size a bool": (lambda d: d["settings"].update(size=True), "size=True is not a positive int"),
}


@pytest.mark.parametrize("path", COMMITTED_FILES, ids=lambda p: p.name)
def test_the_committed_results_pass(path):
    assert read_results_document(path, SETTINGS, MODELS)["runs"]


@pytest.mark.parametrize("name", TAMPERED)
def test_each_tampered_shape_is_one_line_naming_the_file_and_field(tmp_path, name):
    edit, message = TAMPERED[name]
    path = tmp_path / "results.json"
    path.write_text(json.dumps(tampered(edit)))
    with pytest.raises(ValueError, match=f"{path}: not an ablation results file: .*{message}") as error:
        read_results_document(path, SETTINGS, MODELS)
    assert "\n" not in str(error.value) and "regenerate it" in str(error.value)


def test_deep_nesting_a_fifo_and_a_huge_file_are_refused_without_hanging(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match="not JSON \\(RecursionError\\)"):
        read_results_document(deep, SETTINGS, MODELS)
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        read_results_document(fifo, SETTINGS, MODELS)
    huge = tmp_path / "huge.json"
    with huge.open("wb") as file:
        file.truncate(65 * 2**20)  # sparse: no disk used
    with pytest.raises(ValueError, match="more than a results file's"):
        read_results_document(huge, SETTINGS, MODELS)


def test_a_judge_file_must_be_a_regular_file_in_judges(tmp_path):
    results = tmp_path / "ablation.json"
    (tmp_path / "judges").mkdir()
    os.mkfifo(tmp_path / "judges" / "segmenter-0123456789abcdef.pt")
    with pytest.raises(ValueError, match="not a regular file"):
        check_judge_file(results, "judges/segmenter-0123456789abcdef.pt")
    with pytest.raises(ValueError, match="are not judges/segmenter-<key>.pt beside it"):
        check_judge_file(results, "../../etc/passwd")
    assert check_results_document(GOOD, results, SETTINGS, MODELS) is GOOD


def _ablate(argv, capsys) -> tuple[int, str]:
    code = main(["ablate", *argv])
    return code, capsys.readouterr().err


def test_verify_with_no_judges_fails_having_checked_nothing(tmp_path, capsys):
    path = tmp_path / "ablation_landscapes.json"
    path.write_text(json.dumps(tampered(lambda d: d.update(judges=[], runs=[]))))
    code, error = _ablate(["--verify", str(path), "--rerun"], capsys)
    assert code == 1 and "lists no judges, so there is nothing to verify" in error and error.count("\n") == 1


@pytest.mark.parametrize("argv, message", [
    (["--rerun", "spade:\u00b2"], "--rerun 'spade:\u00b2': write MODEL:SEED"),
    (["--seeds", str(10**9)], "--seeds 1000000000: pass at least 1 and at most 1000"),
    (["--judges", str(10**9)], "--judges 1000000000: pass at least 1 and at most 1000"),
])
def test_ablate_counts_are_bounded_and_odd_digits_refused(tmp_path, capsys, argv, message):
    code, error = _ablate(["--verify", str(COMMITTED / "ablation_landscapes.json"), *argv]
                          if argv[0] == "--rerun" else [*argv, "--out", str(tmp_path)], capsys)
    assert code == 1 and message in error and error.count("\n") == 1
