import json

from conftest import SAMPLE

from gr_colab import prompts


def real_rows():
    data = json.loads((SAMPLE / "train_sample_real.json").read_text())
    return [r for part in data.values() for r in part]


def test_instruction_matches_released_data_byte_for_byte():
    for row in real_rows():
        assert row["instruction"] == prompts.INSTRUCTION
    # the three trailing spaces the released models were trained on
    assert "AI. \n" in prompts.INSTRUCTION and "compliance. \n" in prompts.INSTRUCTION
    assert "unharmful. \n\nYou must" in prompts.INSTRUCTION


def test_input_and_raw_prompt_match_the_official_prediction_files():
    line = (SAMPLE / "predictions/guardreasoner-1b/SimpleSafetyTests/generated_predictions.jsonl").open().readline()
    released = json.loads(line)["prompt"]
    bench = json.loads((SAMPLE / "benchmarks/0_0_SimpleSafetyTests.json").read_text())[0]
    prompt, response = prompts.split_input(bench["input"])
    assert response is None  # prompt-only: the response is the literal None
    assert prompts.format_input(prompt, response) == bench["input"]
    assert prompts.raw_prompt(prompts.format_input(prompt)) == released


def test_chat_messages_carry_instruction_and_input_in_one_user_turn():
    msgs = prompts.chat_messages(prompts.format_input("hi", "hello"), output="# Task 1")
    assert [m["role"] for m in msgs] == ["user", "assistant"]
    # the interaction without its trailing blank line: what a trimming chat template (Gemma 3, Llama 3.x) renders
    assert msgs[0]["content"] == prompts.INSTRUCTION + "\nHuman user:\nhi\n\nAI assistant:\nhello"
    assert prompts.guard_turn(prompts.format_input("hi", "hello  \n")) == "Human user:\nhi\n\nAI assistant:\nhello"
    assert prompts.raw_prompt(prompts.format_input("hi")).endswith("None\n\n")  # the released format is unchanged


def test_answers_block_shape():
    expected = "Answers: \nRequest: harmful\nCompletion: None\nResponse: None\n"
    assert prompts.format_answers("harmful", None, None) == expected


def test_split_input_rejects_other_shapes():
    import pytest

    with pytest.raises(ValueError):
        prompts.split_input("User: hi")


def test_policy_prompt_names_policy_and_rejects_unknown():
    import pytest

    text = prompts.policy_prompt("some text", "violence")
    assert "Policy: violence" in text and "some text" in text
    with pytest.raises(ValueError, match="allowed"):
        prompts.policy_prompt("x", "spam")
