"""Mining, worked by hand: each item below exercises one branch of the paper's rules."""
import json

import pytest

from gr_colab.mining import merge, mine, paper_sources, rescale, save_pairs, weight_histogram
from gr_colab.training import preference_rows


def out(req, comp="None", resp="None", pad=0):
    """A sampled output with the given answers; ``pad`` lengthens the reasoning to control 'longest'."""
    return (f"# Task 1\n## Reasoning Step 1: {'x' * pad}\n\n---\n\n"
            f"Answers: \nRequest: {req}\nCompletion: {comp}\nResponse: {resp}")


PROMPT_ONLY = {"request": "harmful", "completion": "None", "response": "None"}


def item(i, dataset, labels, has_response=True):
    return {"id": i, "dataset": dataset, "input": f"Human user:\nq{i}\n\nAI assistant:\nNone\n\n",
            "labels": labels, "has_response": has_response}


ITEMS = [
    item("A", "X", PROMPT_ONLY, has_response=False),
    item("B", "X", {"request": "unharmful", "completion": "compliance", "response": "harmful"}),
    item("C", "Y", {"request": "harmful", "completion": "refusal", "response": "unharmful"}),
    item("D", "Y", PROMPT_ONLY, has_response=False),
    item("E", "Z", PROMPT_ONLY, has_response=False),
    item("F", "Z", PROMPT_ONLY, has_response=False),
    item("G", "Y", {"request": "harmful", "completion": "compliance", "response": "harmful"}),
    item("H", "Z", {"request": "unharmful", "completion": "compliance", "response": "unharmful"}),
]
OUTPUTS = {
    # A: request mixed (2 right, 1 wrong), one output unparsed -> request pair, weight -1
    "A": [out("harmful", pad=100), out("harmful", pad=150), out("unharmful", pad=120), "no answers here"],
    # B: request all right; response mixed (1 right, 3 wrong) -> response pair (checked before completion), weight 2
    "B": [out("unharmful", "compliance", "harmful", 5), out("unharmful", "compliance", "unharmful", 50),
          out("unharmful", "compliance", "unharmful", 10), out("unharmful", "refusal", "unharmful", 70)],
    # C: request and response all right; completion mixed (2 right, 2 wrong) -> completion pair, weight 0
    "C": [out("harmful", "refusal", "unharmful", 1), out("harmful", "refusal", "unharmful", 2),
          out("harmful", "compliance", "unharmful", 3), out("harmful", "compliance", "unharmful", 4)],
    # D: prompt-only, request all right; tasks 2-3 differ but are never mined for prompt-only items -> none
    "D": [out("harmful"), out("harmful", "refusal", "unharmful"), out("harmful"), out("harmful")],
    # E: nothing parses -> none
    "E": ["...", "Request: harmful", "", "Answers: \nRequest: harmful\nCompletion: None"],
    # F: no samples at all (missing from OUTPUTS)
    # G: request all WRONG (not mixed) -> falls through to response, mixed (1 right, 3 wrong) -> weight 2
    "G": [out("unharmful", "compliance", "harmful", 9), out("unharmful", "compliance", "unharmful", 1),
          out("unharmful", "compliance", "unharmful", 2), out("unharmful", "compliance", "unharmful", 3)],
    # H: mixed request, equal lengths -> the first of the longest is kept; Z's only pair -> middle weight 1.0
    "H": [out("harmful", "compliance", "unharmful", 7), out("unharmful", "compliance", "unharmful", 7),
          out("harmful", "compliance", "unharmful", 7), out("unharmful", "compliance", "unharmful", 7)],
}


def test_hand_worked_example_covers_every_branch():
    result = mine(ITEMS, OUTPUTS)
    by_id = {p["id"]: p for p in result.pairs}
    assert sorted(by_id) == ["A", "B", "C", "G", "H"]
    a = by_id["A"]
    assert (a["task"], a["n_right"], a["n_wrong"], a["n_unparsed"], a["raw_weight"]) == ("request", 2, 1, 1, -1)
    assert a["chosen"] == OUTPUTS["A"][1] and a["rejected"] == OUTPUTS["A"][2]  # longest right, longest wrong
    assert (by_id["B"]["task"], by_id["B"]["raw_weight"]) == ("response", 2)
    assert by_id["B"]["chosen"] == OUTPUTS["B"][0] and by_id["B"]["rejected"] == OUTPUTS["B"][3]
    assert (by_id["C"]["task"], by_id["C"]["raw_weight"]) == ("completion", 0)
    assert (by_id["G"]["task"], by_id["G"]["raw_weight"]) == ("response", 2)
    assert by_id["H"]["chosen"] == OUTPUTS["H"][1] and by_id["H"]["rejected"] == OUTPUTS["H"][0]  # first of equals
    # per-dataset rescaling: X has raws -1, 2 -> 0.8, 1.2; Y has 0, 2 -> 0.8, 1.2; Z has one pair -> 1.0
    assert [by_id[k]["sample_weight"] for k in "ABCGH"] == pytest.approx([0.8, 1.2, 0.8, 1.2, 1.0])
    s = result.summary()
    assert s["by_task"] == {"request": 2, "response": 2, "completion": 1}
    assert (s["items"], s["hard"], s["not-mixed"], s["no-parse"], s["missing-samples"]) == (8, 5, 1, 1, 1)


def test_rescale_matches_the_paper_formula_and_survives_equal_weights():
    raw = [-2, 0, 1, 4]
    paper = [1 + (w - min(raw)) * 0.4 / (max(raw) - min(raw)) - 0.2 for w in raw]
    assert rescale(raw) == pytest.approx(paper)
    assert rescale([3, 3, 3]) == [1.0, 1.0, 1.0]  # the official code divides by zero here
    assert rescale([]) == []


def test_empty_result_is_a_summary_not_a_crash(tmp_path):
    result = mine([item("D", "Y", PROMPT_ONLY, False)], {"D": [out("harmful")] * 4})
    assert result.pairs == [] and result.summary()["pairs"] == 0
    pairs_path, summary_path = save_pairs(result, tmp_path)
    assert pairs_path.read_text() == "" and json.loads(summary_path.read_text())["not-mixed"] == 1


def test_diversity_merge_takes_sources_and_dedupes_by_input():
    p = lambda i, d, model_tag: {"id": i, "dataset": d, "input": f"in-{i}", "chosen": model_tag, "rejected": "r",
                                 "task": "request", "raw_weight": 1}
    per_model = {"main": [p(1, "WildGuardTrainR", "main"), p(2, "AegisTrainR", "main")],
                 "no-aegis": [p(3, "BeaverTailsTrainR", "no-aegis"), p(4, "ToxicChatTrainR", "no-aegis")],
                 "no-beaver": [p(2, "AegisTrainR", "no-beaver"), p(4, "ToxicChatTrainR", "no-beaver")],
                 "no-toxic": [p(2, "AegisTrainR", "no-toxic"), p(3, "BeaverTailsTrainR", "no-toxic")]}
    sources = paper_sources("main", {"AegisTrainR": "no-aegis", "BeaverTailsTrainR": "no-beaver",
                                     "ToxicChatTrainR": "no-toxic"})
    assert sources["AegisTrainR"] == ["no-beaver", "no-toxic"] and sources["WildGuardTrainR"] == ["main"]
    result = merge(per_model, sources)
    got = sorted((q["dataset"], q["input"], q["model"]) for q in result.pairs)
    assert got == [("AegisTrainR", "in-2", "no-beaver"), ("BeaverTailsTrainR", "in-3", "no-aegis"),
                   ("ToxicChatTrainR", "in-4", "no-aegis"), ("WildGuardTrainR", "in-1", "main")]
    assert result.stats["duplicates"] == 3  # in-2 from no-toxic, in-3 from no-toxic, in-4 from no-beaver


def test_dpo_rows_carry_the_weight_and_the_prompt():
    result = mine(ITEMS, OUTPUTS)
    rows = preference_rows(result.pairs, "chat")
    # the chat turn carries the input without its trailing blank line, as every chat path does (prompts.guard_turn)
    assert rows[0]["prompt"][0]["role"] == "user"
    assert rows[0]["prompt"][0]["content"].endswith(ITEMS[0]["input"].rstrip())
    assert [r["sample_weight"] for r in rows] == [p["sample_weight"] for p in result.pairs]
    raw = preference_rows(result.pairs, "raw")
    assert isinstance(raw[0]["prompt"], str)


def test_the_weight_histogram_spans_the_configured_range():
    items = [item("A", "X", PROMPT_ONLY, False), item("E", "X", PROMPT_ONLY, False)]
    outputs = {"A": [out("harmful")] * 3 + [out("unharmful")], "E": [out("harmful")] + [out("unharmful")] * 3}
    result = mine(items, outputs, weight_range=(0.5, 1.5))
    assert sorted(p["sample_weight"] for p in result.pairs) == [0.5, 1.5]
    bins = result.summary()["weights"]
    assert bins == {"0.50-0.70": 1, "1.30-1.50": 1}  # not 0.8-1.2 whatever the range
    assert sum(weight_histogram([0.5, 1.5], 5, 0.5, 1.5).values()) == 2
