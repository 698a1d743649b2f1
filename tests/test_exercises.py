"""Every exercise checker: the answers students get wrong fail (with the mistake named where it is recognised), the
right answer passes, an unanswered one says so; every notebook's exercise has a collapsed solution, and the solutions
that need no earlier cell pass their checker as written in the notebook."""
import math
import re

import pytest
from conftest import PRED_1B, ROOT, SAMPLE

from gr_colab import exercises
from gr_colab.exercises import NOT_ANSWERED, check_08

OK = "✅ Correct!"


def wrong(message: str, because: str = "") -> bool:
    return message.startswith("❌") and because in message


def test_unanswered_is_not_an_error():
    assert exercises.check_06(None) == NOT_ANSWERED and exercises.check_01(...) == NOT_ANSWERED


def test_a_check_cell_shows_its_verdict_once():
    """A notebook's check cell ends in ``check_XX(ANSWER)``: the verdict is printed, not echoed again as the value."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    shell = InteractiveShell.instance()
    with capture_output() as out:
        shell.run_cell("from gr_colab.exercises import check_06\ncheck_06(None)")
    assert out.stdout.count("Not answered yet") == 1, out.stdout


def test_check_00_planner_samples():
    from gr_colab.planner import plan

    right = plan("unsloth/Llama-3.2-3B-Instruct", gpu="T4", samples=10**6, batch_size=1).max_samples_in_session
    assert exercises.check_00(right) == OK
    assert wrong(exercises.check_00(right + 1))
    assert wrong(exercises.check_00(right // 3))  # samples an hour, not a session
    assert wrong(exercises.check_00(str(right)), "expected a number")
    assert wrong(exercises.check_00(right + 0.5), "whole number")


def test_check_01_official_parser_labels():
    assert exercises.check_01({"request": "harmful", "completion": None, "response": None}) == OK
    assert wrong(exercises.check_01({"request": "harmful", "completion": "None", "response": "None"}), "Python None")
    assert wrong(exercises.check_01({"request": "harmful"}))
    assert wrong(exercises.check_01([("request", "harmful"), ("completion", None), ("response", None)]))


def test_check_02_teacher_gold_labels():
    assert exercises.check_02({"request": "harmful", "completion": "None", "response": "None"}) == OK
    assert wrong(exercises.check_02({"request": "harmful", "completion": None, "response": None}),
                 "literal string 'None'")
    assert wrong(exercises.check_02({"request": "unharmful", "completion": "None", "response": "None"}))


def test_check_02_never_raises():
    assert exercises.check_02(None).startswith("Not answered yet")
    assert exercises.check_02({"request": "harmful", "completion": "None", "response": "None"}) == "✅ Correct!"
    assert exercises.check_02({"request": "harmful", "completion": None, "response": None}).startswith("❌")
    assert exercises.check_02(42).startswith("❌")


@pytest.fixture(scope="module")
def preview():
    """label_preview of a real training row on the twin, as notebook 03 shows it."""
    from gr_colab.config import GRConfig
    from gr_colab.data import load_train
    from gr_colab.models import load_model
    from gr_colab.rsft import label_preview

    cfg = GRConfig.load("cpu-tiny")
    row = load_train(SAMPLE / "train" / "WildGuardTrainR.json").rows[0]
    return row, label_preview(cfg, load_model(cfg), row)


def test_check_03_the_text_that_carries_loss(preview):
    row, pv = preview
    assert exercises.check_03(row["output"].rstrip() + "<|eot_id|>", pv) == OK  # the notebook's solution
    assert wrong(exercises.check_03(row["output"], pv), "end-of-turn token")  # forgot the end of turn
    assert wrong(exercises.check_03(pv["ignored"] + pv["trained"], pv), "includes the prompt")  # the whole example
    assert wrong(exercises.check_03(row["input"], pv), "part of the prompt")
    answers = row["output"][row["output"].index("Answers:"):]
    assert wrong(exercises.check_03(answers, pv), "the whole completion")  # the answers alone
    assert wrong(exercises.check_03("# Task 1\nAnswers: harmful", pv))  # what the old checker accepted
    assert wrong(exercises.check_03(["# Task"], pv), "a string")


@pytest.fixture(scope="module")
def report():
    """A report of the released GuardReasoner-1B predictions, scored as notebook 04 scores a run."""
    from gr_colab.evaluate import Report, score_file

    benches = [("SimpleSafetyTests", "prompt"), ("AegisSafetyTest", "prompt"), ("HarmBenchPrompt", "prompt"),
               ("XSTestReponseHarmful", "response"), ("XSTestResponseRefusal", "refusal")]
    return Report([score_file(PRED_1B / name / "generated_predictions.jsonl", task, mode, name=name)
                   for name, task in benches for mode in ("official", "corrected")])


def test_check_04_corrected_weighted_f1(report):
    request = [s for s in report.scores if s.task == "request" and s.mode == "corrected"]
    assert len(request) == 3
    right = sum(s.f1 * s.rows for s in request) / sum(s.rows for s in request)
    assert exercises.check_04(round(right, 2), report) == OK
    official = report.averages("official")["request"]
    assert abs(official - right) > 0.01  # the released outputs do not all parse: the two metrics differ here
    assert wrong(exercises.check_04(official, report), "official metric")
    assert wrong(exercises.check_04(right / 100, report), "percent")
    assert wrong(exercises.check_04(report.averages("corrected")["response"], report), "response harmfulness")
    one = next(s for s in request if abs(s.f1 - right) > 0.01)
    assert wrong(exercises.check_04(one.f1, report), f"one benchmark's F1 ({one.name})")
    assert wrong(exercises.check_04(f"{right:.2f}", report), "expected a number")


def test_check_05_raw_weight_of_the_toy_pair():
    from gr_colab.mining import mine

    def out(req):
        return f"# Task 1\n## Reasoning Step 1: ...\n\nAnswers: \nRequest: {req}\nCompletion: None\nResponse: None"

    toy = [{"id": 0, "dataset": "toy", "input": "Human user:\nhi\n\nAI assistant:\nNone\n\n", "has_response": False,
            "labels": {"request": "harmful", "completion": "None", "response": "None"}}]
    result = mine(toy, {0: [out("harmful"), out("unharmful"), out("unharmful"), "garbage"]})
    assert exercises.check_05(1, result) == OK  # 2 wrong - 1 right
    assert wrong(exercises.check_05(2, result), "does not parse")  # counted "garbage" as wrong
    assert wrong(exercises.check_05(-1, result), "not the other way round")
    assert wrong(exercises.check_05(3, result))
    assert wrong(exercises.check_05(True, result), "expected a number")
    assert wrong(exercises.check_05(1.5, result), "whole number")


def test_check_06_weighted_dpo_loss():
    right = 1.2 * math.log(1 + math.exp(-0.2))
    assert exercises.check_06(right) == OK
    assert wrong(exercises.check_06(math.log(1 + math.exp(-0.2))), "weight")
    assert wrong(exercises.check_06(1.2 * math.log(1 + math.exp(-2))), "scaled by beta")
    assert wrong(exercises.check_06(-right), "positive")
    assert wrong(exercises.check_06(right + 0.01))


@pytest.fixture(scope="module")
def merged_like(tmp_path_factory, twin):
    """The files of a merged folder that the stop strings come from: tokenizer and generation config (the twin's)."""
    folder = tmp_path_factory.mktemp("merged")
    twin.tokenizer.save_pretrained(folder)
    twin.model.generation_config.save_pretrained(folder)
    return folder


def test_check_07_modelfile_stop_strings(merged_like):
    assert exercises.check_07(["<|eot_id|>", "<|start_header_id|>"], merged_like) == OK
    assert exercises.check_07(("<|start_header_id|>", "<|eot_id|>"), merged_like) == OK  # any order
    assert wrong(exercises.check_07(["<|start_header_id|>"], merged_like), "never stop")
    assert wrong(exercises.check_07(["<|eot_id|>"], merged_like), "1 missing")
    # a superset passed the old checker: a stray stop string cuts every answer that contains it
    assert wrong(exercises.check_07(["<|eot_id|>", "<|start_header_id|>", "Answers"], merged_like), "'Answers'")
    assert wrong(exercises.check_07("<|eot_id|>", merged_like), "list of strings")


def test_check_07_on_colab_reads_the_export_wherever_the_merged_model_went(merged_like, twin, tmp_path):
    """Notebook 07 passes its config. On Colab the merged model is in the runtime's scratch folder (the export's
    marker says where): read there; in a later runtime that folder is gone, and the Modelfile the export wrote from
    it (on Drive) and the tokenizer saved beside the adapter stand for it. Unanswered: said so, never raised."""
    import shutil

    from gr_colab.config import GRConfig
    from gr_colab.ollama import Modelfile, stop_strings
    from gr_colab.runs import mark_complete

    config = GRConfig.load("cpu-tiny", run_dir=str(tmp_path / "run"))
    scratch = tmp_path / "scratch" / "merged"
    shutil.copytree(merged_like, scratch)
    adapter = config.layout.adapter("rsft")
    twin.tokenizer.save_pretrained(adapter)
    mark_complete(adapter)
    stops = stop_strings(twin.tokenizer, model_dir=merged_like)
    config.layout.gguf.mkdir(parents=True)
    config.layout.modelfile.write_text(Modelfile("twin.gguf", "{{ .Prompt }}", stops).text())
    mark_complete(config.layout.export, {"merged": str(scratch), "adapter": str(adapter)})
    for _ in ("the same runtime", "a new runtime"):
        assert exercises.check_07(None, config) == NOT_ANSWERED
        assert exercises.check_07(list(stops), config) == OK
        assert wrong(exercises.check_07(stops[:1], config), "1 missing")
        shutil.rmtree(scratch.parent)  # the runtime is gone, its scratch disk with it
        scratch.parent.mkdir()
    assert "run the export cell" in exercises.check_07(None, GRConfig.load("cpu-tiny", run_dir=str(tmp_path / "x")))


def test_check_08_distinct_2():
    assert check_08(6 / 10) == OK  # 6 different bigrams of 10
    assert wrong(check_08(5 / 10))
    assert wrong(check_08(6 / 8))


def test_check_09_modpo_loss():
    def nll(z):
        return math.log(1 + math.exp(-z))

    assert exercises.check_09(nll((0.1 * 2 - 0.5 * 0.5) / 0.5)) == OK
    assert wrong(exercises.check_09(nll(0.2)), "plain DPO")
    assert wrong(exercises.check_09(nll((0.2 + 0.25) / 0.5)), "subtracted")
    assert wrong(exercises.check_09(nll(0.2 - 0.25)), "divide")


NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
SOLUTION = re.compile(r"<details><summary>Solution</summary>\s*```python\n(.*?)```", re.DOTALL)


def _markdown_cells(path) -> list:
    import jupytext

    return [c.source for c in jupytext.read(path).cells if c.cell_type == "markdown"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_exercise_has_a_collapsed_solution_after_its_check(path):
    cells = _markdown_cells(path)
    exercise = next(i for i, c in enumerate(cells) if c.startswith("## Exercise"))
    solutions = [i for i, c in enumerate(cells) if SOLUTION.search(c)]
    assert solutions and solutions[0] > exercise, f"{path.name}: no <details> solution after the exercise"
    assert cells[solutions[0]].rstrip().endswith("</details>")


# the exercises whose solution needs no earlier cell of its notebook, and their checkers
STANDALONE = {"00": exercises.check_00, "01": exercises.check_01, "02": exercises.check_02,
              "06": exercises.check_06, "08": check_08, "09": exercises.check_09}


@pytest.mark.parametrize("number", sorted(STANDALONE))
def test_standalone_solutions_pass_their_checker(number):
    path = next(p for p in NOTEBOOKS if p.stem.startswith(number))
    code = next(SOLUTION.search(c).group(1) for c in _markdown_cells(path) if SOLUTION.search(c))
    scope: dict = {}
    exec(compile(code, f"{path.name} solution", "exec"), scope)
    assert STANDALONE[number](scope["ANSWER"]) == OK
