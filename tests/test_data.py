import json

import pytest
from conftest import SAMPLE

from gr_colab import benchmark_rows, data
from gr_colab.data import DataError
from gr_colab.prompts import INSTRUCTION, format_input

GOOD_OUTPUT = ("# Task 1\n\n## Reasoning Step 1\nIt asks for a cake recipe, which is unharmful.\n\n---\n\n"
               "Answers: \nRequest: unharmful\nCompletion: None\nResponse: None")


def good_row(**kw):
    return {"instruction": INSTRUCTION, "input": format_input("How do I bake a cake?"), "output": GOOD_OUTPUT, **kw}


def write(tmp_path, rows, name="rows.json"):
    p = tmp_path / name
    if name.endswith(".jsonl"):
        p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        p.write_text(json.dumps(rows))
    return p


def test_real_guardreasonertrain_rows_validate():
    loaded = data.load_train(SAMPLE / "train_sample_real.json")
    assert len(loaded.rows) == 4 and not loaded.skipped
    assert {r["labels"]["request"] for r in loaded.rows} == {"harmful", "unharmful"}


def test_every_sample_data_row_validates():
    total = 0
    for f in sorted((SAMPLE / "train").glob("*.json")):
        loaded = data.load_train(f)
        assert loaded.rows and not loaded.skipped
        assert {r["dataset"] for r in loaded.rows} == {f.stem}
        total += len(loaded.rows)
    assert total >= 200


def test_sample_data_covers_every_label_combination():
    combos = set()
    for f in (SAMPLE / "train").glob("*.json"):
        for r in data.load_train(f).rows:
            combos.add((r["has_response"], r["labels"]["request"], r["labels"]["completion"], r["labels"]["response"]))
    for req in ("harmful", "unharmful"):
        assert (False, req, "None", "None") in combos
        for comp in ("refusal", "compliance"):
            for resp in ("harmful", "unharmful"):
                assert (True, req, comp, resp) in combos, (req, comp, resp)


@pytest.mark.parametrize("row, field, message", [
    ("not a dict", "<row>", "expected an object"),
    ({"input": "x", "output": "y"}, "instruction", "missing"),
    (good_row(input=5), "input", "expected text"),
    (good_row(output="   "), "output", "empty"),
    (good_row(input="User: hi"), "input", "not in the shape"),
    (good_row(output="I think it is fine."), "output", "answers do not parse"),
    (good_row(output=GOOD_OUTPUT.replace("Request: unharmful", "Request: None")), "output", "Request answer"),
    (good_row(output=GOOD_OUTPUT.replace("Completion: None", "Completion: maybe")), "output", "'maybe' is not a label"),
])
def test_each_class_of_bad_row_names_file_row_and_field(tmp_path, row, field, message):
    path = write(tmp_path, [good_row(), row])
    with pytest.raises(DataError, match=message) as err:
        data.load_train(path)
    assert err.value.field == field
    assert err.value.where == f"{path}:row 1"
    assert str(path) in str(err.value) and f"field {field!r}" in str(err.value)


def test_skip_bad_rows_counts_and_reports(tmp_path):
    path = write(tmp_path, [good_row(), {"oops": 1}, good_row(), good_row(output="no answers")], "rows.jsonl")
    loaded = data.load_train(path, skip_bad=True)
    assert len(loaded.rows) == 2 and len(loaded.skipped) == 2
    report = loaded.report()
    assert "2 rows loaded, 2 skipped" in report and "row 1" in report and "row 3" in report


def test_broken_json_names_the_line(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text(json.dumps(good_row()) + "\n{not json\n")
    with pytest.raises(DataError, match=r"bad.jsonl:line 2"):
        data.load_train(p)
    with pytest.raises(FileNotFoundError, match="missing.json"):
        data.load_train(tmp_path / "missing.json")


def test_datasets_dataset_is_accepted():
    from datasets import Dataset

    rows = [good_row(), good_row()]
    loaded = data.load_train(Dataset.from_list(rows), dataset="AegisTrainR")
    assert len(loaded.rows) == 2 and loaded.rows[0]["dataset"] == "AegisTrainR"


# The dataset card of yueliu1999/GuardReasonerTrain: split names are not file names.
HUB_CARD = """---
configs:
- config_name: default
  data_files:
  - split: WildGuardTrainR
    path: "WildGuardTrain-R.json"
  - split: AegisTrainR
    path: "AegisTrain-R.json"
  - split: BeaverTailsTrainR
    path: "BeaverTailsTrain-R.json"
  - split: ToxicChatTrainR
    path: "ToxicChatTrain-R.json"
license: mit
---
# GuardReasonerTrain (a local copy of the card, with small files named as on the Hub)
"""


@pytest.fixture
def hub_folder(tmp_path):
    """A local dataset folder laid out as the Hub repository is: the card's front matter and its file names."""
    rows = data.load_train_files(sorted(str(p) for p in (SAMPLE / "train").glob("*.json"))).rows
    for i, split in enumerate(data.HUB_SPLITS):
        part = [{k: r[k] for k in data.TRAIN_FIELDS} for r in rows[i * 3:i * 3 + 3]]
        (tmp_path / split.replace("TrainR", "Train-R.json")).write_text(json.dumps(part))
    (tmp_path / "README.md").write_text(HUB_CARD)
    return tmp_path


def test_hub_loader_follows_the_cards_split_to_file_mapping(hub_folder):
    """The same call as on Colab (load_dataset(id, split=name)), on a local folder with the card."""
    loaded = data.load_train(f"hf://{hub_folder}")
    assert len(loaded.rows) == 12 and [r["dataset"] for r in loaded.rows[::3]] == list(data.HUB_SPLITS)
    one = data.load_train(f"hf://{hub_folder}:AegisTrainR")
    assert len(one.rows) == 3 and {r["dataset"] for r in one.rows} == {"AegisTrainR"}
    assert one.rows[0]["input"] == json.loads((hub_folder / "AegisTrain-R.json").read_text())[0]["input"]


def test_hub_loader_names_an_unknown_split(hub_folder):
    with pytest.raises(data.DataError, match="AegisTrain.*split"):
        data.load_train(f"hf://{hub_folder}:AegisTrain")


def test_leave_out_drops_one_dataset_and_says_so():
    files = [str(p) for p in sorted((SAMPLE / "train").glob("*.json"))]
    full = data.load_train_files(files)
    without = data.load_train_files(files, leave_out="AegisTrainR")
    assert "AegisTrainR" not in {r["dataset"] for r in without.rows}
    assert len(full.rows) - len(without.rows) == sum(r["dataset"] == "AegisTrainR" for r in full.rows)
    assert "left out AegisTrainR" in without.source


def test_sft_rows_chat_and_raw():
    row = data.load_train(SAMPLE / "train_sample_real.json").rows[0]
    chat = data.to_sft_rows([row], "chat")[0]
    # the chat turn is the interaction without its trailing blank line, as a trimming template (Gemma 3, Llama 3.x)
    # renders it; the same text reaches the model at inference (prompts.guard_turn)
    assert chat["prompt"][0]["content"] == INSTRUCTION + "\n" + row["input"].rstrip()
    assert row["input"].endswith("\n\n") and not chat["prompt"][0]["content"].endswith("\n")
    assert chat["completion"] == [{"role": "assistant", "content": row["output"].rstrip()}]
    raw = data.to_sft_rows([row], "raw")[0]
    assert raw["prompt"] == INSTRUCTION + "\n" + row["input"] and raw["completion"] == row["output"]


def test_holdout_is_stratified_and_reproducible():
    rows = data.load_train_files([str(p) for p in sorted((SAMPLE / "train").glob("*.json"))]).rows
    a = data.split_holdout(rows, 0.1, seed=1)
    b = data.split_holdout(rows, 0.1, seed=1)
    assert a == b and len(a[0]) + len(a[1]) == len(rows)
    assert {r["dataset"] for r in a[1]} == {r["dataset"] for r in rows}


def test_benchmark_files_load_with_gold_labels():
    for name, task, n in [("0_0_SimpleSafetyTests.json", "request", 100),
                          ("0_7_xstest_response_refusal.json", "completion", 449),
                          ("0_5_harmbench_response.json", "response", 602)]:
        loaded = benchmark_rows.load_benchmark(SAMPLE / "benchmarks" / name, task)
        assert len(loaded.rows) == n and all(r["label"] in ("harmful", "unharmful", "refusal", "compliance")
                                             for r in loaded.rows)


def test_benchmark_answers_block_and_bad_label(tmp_path):
    inp = format_input("q", "a")
    answers = "Answers: \nRequest: None\nCompletion: None\nResponse: harmful\n"
    rows = [{"instruction": INSTRUCTION, "input": inp, "output": answers},
            {"instruction": INSTRUCTION, "input": inp, "output": "toxic"}]
    path = write(tmp_path, rows)
    loaded = benchmark_rows.load_benchmark(path, "response", skip_bad=True)
    assert loaded.rows[0]["label"] == "harmful" and len(loaded.skipped) == 1
    assert loaded.skipped[0][:2] == (f"{path}:row 1", "output")


def test_six_policy_data_loads_every_policy():
    loaded = data.load_policy_data(SAMPLE / "six_policy" / "training_data.json")
    samples = json.loads((SAMPLE / "six_policy" / "training_data.json").read_text())["samples"]
    assert len(samples) >= 30 and len(loaded.rows) == 6 * len(samples)
    sft = data.to_sft_rows(loaded.rows[:1], "chat")[0]
    assert "Policy: " in sft["prompt"][0]["content"]


def test_six_policy_bad_trace_is_named(tmp_path):
    bad = {"samples": [{"content": "hi", "labels": ["violence"], "source": "x"}],
           "reasoning_traces": {f"sample_0_{p}": {"reasoning": "Reasoning:\nStep 1: a\n\nClassification: SAFE",
                                                  "classification": "SAFE"} for p in
                                ["hate_speech", "violence", "self_harm", "sexual_minors", "harassment", "illegal"]}}
    p = tmp_path / "training_data.json"
    p.write_text(json.dumps(bad))
    with pytest.raises(DataError, match="sample_0_violence.classification.*expected UNSAFE"):
        data.load_policy_data(p)


def test_traces_from_released_predictions_keep_only_agreeing_complete_outputs(tmp_path):
    from gr_colab.traces import parse_trace

    path = SAMPLE / "predictions" / "guardreasoner-1b" / "AegisSafetyTest" / "generated_predictions.jsonl"
    rows, total = data.traces_from_predictions(path, "request")
    records = data.read_records(path)
    agreeing = [r for r in records if parse_trace(r["predict"]).complete
                and parse_trace(r["predict"]).request == r["label"]]
    assert total == len(records) and len(rows) == len(agreeing) and 0 < len(rows) < total
    assert all(r["input"].startswith("Human user:\n") and r["input"].endswith("\n\n") for r in rows)
    assert data.load_train(write(tmp_path, rows)).rows  # valid training rows
    assert json.loads((SAMPLE / "real_traces" / "AegisSafetyTest-1B.json").read_text()) == rows  # the bundled file
    bad = write(tmp_path, [{"prompt": "not the instruction", "label": "harmful", "predict": "x"}], "bad.jsonl")
    with pytest.raises(DataError, match=r"bad.jsonl:line 1.*prompt"):
        data.traces_from_predictions(bad, "request")


def test_reasoning_budget_cuts_keep_the_verdict_and_shorten_the_trace():
    from gr_colab.traces import parse_trace

    rows = data.load_train(SAMPLE / "real_traces" / "HarmBenchPrompt-1B.json").rows
    short, answers = data.conclusions_only(rows), data.answers_only(rows)
    for full, cut, ans in zip(rows, short, answers):
        assert parse_trace(cut["output"]).labels == parse_trace(full["output"]).labels
        assert parse_trace(ans["output"]).labels == parse_trace(full["output"]).labels
        assert len(ans["output"]) < len(cut["output"]) < len(full["output"])
        assert cut["output"].startswith("# Task 1\n## ")  # real outputs drift (headless, "# Task 3: x"); cuts do not
    trace = ("# Task 1\n\n## Reasoning Step 1: It asks for a recipe.\n\n## Conclusion: The request is unharmful.\n\n"
             "# Task 2\n\n## Reasoning Step 1: No response.\n\n## Reasoning Step 2: Neither refusal nor compliance.\n"
             "\n---\n\nAnswers: \nRequest: unharmful\nCompletion: None\nResponse: None")
    assert data.short_trace(trace) == ("# Task 1\n## Conclusion: The request is unharmful.\n\n# Task 2\n"
                                       "## Reasoning Step 2: Neither refusal nor compliance.\n\n---\n\n"
                                       "Answers: \nRequest: unharmful\nCompletion: None\nResponse: None")
    with pytest.raises(DataError, match="row 0.*output.*Answers"):
        data.conclusions_only([{"output": "just some reasoning", "dataset": "X"}])
