"""Chapter 09, MODPO: the loss by hand (w = 1 is DPO), the trainer on stock TRL against a hand computation from
log-probabilities, the PKU-SafeRLHF loader's errors, the guard's safety labels, and the two steps and the sweep end
to end on the CPU twin, through the library and the command line."""
import json
import math

import pytest
import torch
from conftest import SAMPLE

# The tiny Llama and character tokenizer of the HS-DPO loss tests (reused, not copied).
from test_hsdpo_loss import (  # noqa: F401
    _args,
    _move_policy,
    _one_thread,
    _peft_model,
    _rows,
    _summed_logps,
    _tokenizer,
    needs_trls_own_loss,
)

from gr_colab.data import DataError
from gr_colab.modpo import load_saferlhf, preference_pairs, relabel_safer, split_rows
from gr_colab.modpo.trainer import MARGIN_CHOSEN, MARGIN_REJECTED, MODPOTrainer, implicit_rewards, modpo_loss

SAMPLE_FILE = SAMPLE / "modpo" / "saferlhf_sample.jsonl"


def _sig(x):
    return 1 / (1 + math.exp(-x))


# --- the loss ---------------------------------------------------------------------------------------------------
def test_modpo_loss_by_hand():
    c, r = torch.tensor([-10.0, -12.0]), torch.tensor([-11.0, -10.0])
    rc, rr = torch.tensor([-10.5, -11.0]), torch.tensor([-10.5, -10.5])
    mc, mr = torch.tensor([0.4, -0.3]), torch.tensor([-0.2, 0.5])
    # pair 0: policy log-ratios 0.5 and -0.5; w = 0.5: chosen = (0.05 - 0.2) / 0.5 = -0.3, rejected = (-0.05 + 0.1)
    #   / 0.5 = 0.1, loss = -log sigmoid(-0.4) = 0.9130152523999526
    # pair 1: log-ratios -1.0 and 0.5: chosen = (-0.1 + 0.15) / 0.5 = 0.1, rejected = (0.05 - 0.25) / 0.5 = -0.4,
    #   loss = -log sigmoid(0.5) = 0.4740769841801067
    got = modpo_loss(c, r, rc, rr, mc, mr, beta=0.1, w=0.5)
    assert got.shape == (2,)
    assert got.tolist() == pytest.approx([0.9130152523999526, 0.4740769841801067], abs=1e-6)
    # w = 0.1: the safety margin weighs 0.9 and everything is scaled by 1/0.1
    want0 = -math.log(_sig(((0.05 - 0.9 * 0.4) - (-0.05 + 0.9 * 0.2)) / 0.1))
    assert modpo_loss(c, r, rc, rr, mc, mr, beta=0.1, w=0.1)[0].item() == pytest.approx(want0, abs=1e-5)


def test_w_one_is_dpo_sigmoid_loss_whatever_the_margins():
    c, r = torch.tensor([-10.0, -12.0, -8.0]), torch.tensor([-11.0, -10.0, -9.0])
    rc, rr = torch.tensor([-10.5, -11.0, -8.5]), torch.tensor([-10.5, -10.5, -8.0])
    dpo = [-math.log(_sig(0.1 * m)) for m in (1.0, -1.5, 1.5)]  # TRL's "sigmoid" loss of each pair
    for margins in ((torch.zeros(3), torch.zeros(3)), (torch.tensor([5.0, -3.0, 1.0]), torch.tensor([-2.0, 4.0, 0.0]))):
        assert modpo_loss(c, r, rc, rr, *margins, beta=0.1, w=1.0).tolist() == pytest.approx(dpo, abs=1e-6)
    from gr_colab.hsdpo import weighted_dpo_loss

    assert modpo_loss(c, r, rc, rr, torch.ones(3), torch.zeros(3), 0.1, 1.0).mean().item() == pytest.approx(
        weighted_dpo_loss(c, r, rc, rr, None, 0.1).item(), abs=1e-7)


@pytest.mark.parametrize("w", [0.0, -0.5, 1.5])
def test_w_outside_zero_one_is_refused(w):
    t = torch.zeros(1)
    with pytest.raises(ValueError, match="w"):
        modpo_loss(t, t, t, t, t, t, 0.1, w)


# --- the trainer on stock TRL -------------------------------------------------------------------------------------
def _modpo_trainer(tmp_path, w, margins):
    from datasets import Dataset

    rows = [{**row, MARGIN_CHOSEN: mc, MARGIN_REJECTED: mr} for row, (mc, mr) in zip(_rows([None] * 3), margins)]
    trainer = MODPOTrainer(model=_peft_model(), ref_model=None, w=w, args=_args(tmp_path),
                           train_dataset=Dataset.from_list(rows), processing_class=_tokenizer())
    _move_policy(trainer.model)
    trainer.model.train()
    return trainer


def _batch(trainer):
    keep = ("prompt_ids", "chosen_ids", "rejected_ids", MARGIN_CHOSEN, MARGIN_REJECTED)
    ds = trainer.train_dataset
    return trainer.data_collator([{k: ds[i][k] for k in keep} for i in range(len(ds))])


def test_trainer_loss_is_modpo_of_the_log_probs(tmp_path):
    margins = [(0.3, -0.2), (-0.1, 0.4), (0.0, 0.0)]
    trainer = _modpo_trainer(tmp_path, 0.5, margins)
    assert trainer.model_accepts_loss_kwargs is False and type(trainer).loss_is_scaled_for_ga is False  # GA divides
    batch = _batch(trainer)
    assert batch[MARGIN_CHOSEN].tolist() == pytest.approx([m[0] for m in margins])
    loss = trainer.compute_loss(trainer.model, dict(batch)).item()
    c, r = _summed_logps(trainer.model, batch, "default")
    rc, rr = _summed_logps(trainer.model, batch, "ref")  # TRL's frozen copy of the starting adapter
    assert not torch.allclose(c, rc)  # the policy moved: the log-ratios are not all zero
    by_hand = [-math.log(_sig(((0.1 * (c[i] - rc[i]) - 0.5 * mc) - (0.1 * (r[i] - rr[i]) - 0.5 * mr)) / 0.5))
               for i, (mc, mr) in enumerate(margins)]
    assert loss == pytest.approx(sum(by_hand) / 3, rel=1e-4)
    logged = trainer._metrics["train"]
    assert logged["safety_margin/chosen"][-1] == pytest.approx(sum(m[0] for m in margins) / 3)


@needs_trls_own_loss
def test_trainer_with_w_one_equals_trls_dpo_loss(tmp_path):
    from datasets import Dataset
    from trl import DPOTrainer

    trainer = _modpo_trainer(tmp_path, 1.0, [(3.0, -1.0)] * 3)  # margins ignored at w = 1
    dpo = DPOTrainer(model=_peft_model(), ref_model=None, args=_args(tmp_path / "dpo"),
                     train_dataset=Dataset.from_list(_rows([None] * 3)), processing_class=_tokenizer())
    _move_policy(dpo.model)
    dpo.model.train()
    batch = _batch(trainer)
    plain = {k: v for k, v in batch.items() if k not in (MARGIN_CHOSEN, MARGIN_REJECTED)}
    assert trainer.compute_loss(trainer.model, dict(batch)).item() == pytest.approx(
        dpo.compute_loss(dpo.model, plain).item(), rel=1e-5)


def test_trainer_refuses_pairs_without_margins(tmp_path):
    from datasets import Dataset

    with pytest.raises(ValueError, match="margin_chosen, margin_rejected.*compute_margins"):
        MODPOTrainer(model=_peft_model(), ref_model=None, w=0.5, args=_args(tmp_path),
                     train_dataset=Dataset.from_list(_rows([None] * 2)), processing_class=_tokenizer())
    trainer = _modpo_trainer(tmp_path, 0.5, [(0.1, 0.2)] * 3)
    ds = trainer.train_dataset
    with pytest.raises(ValueError, match="'margin_rejected' is missing"):  # the collator: margins are required
        trainer.data_collator([{k: ds[0][k] for k in ("prompt_ids", "chosen_ids", "rejected_ids", MARGIN_CHOSEN)}])


def test_implicit_reward_is_beta_times_the_log_ratio():
    model, tok = _peft_model(), _tokenizer()
    _move_policy(model)
    prompts = [[{"role": "user", "content": "hi there"}], "plain prompt: "]
    got = implicit_rewards(model, tok, "default", prompts, ["hello", "ok"], beta=0.5)
    from trl.trainer.utils import use_adapter

    from gr_colab.modpo.trainer import completion_logps

    with use_adapter(model, None):
        base = completion_logps(model, tok, prompts, ["hello", "ok"])
    lp = completion_logps(model, tok, prompts, ["hello", "ok"])
    assert got == pytest.approx((0.5 * (lp - base)).tolist(), abs=1e-6) and all(abs(g) > 1e-4 for g in got)


# --- data -------------------------------------------------------------------------------------------------------
def test_bundled_sample_loads_clean_and_splits_like_the_modpo_code():
    loaded = load_saferlhf(SAMPLE_FILE)
    assert 60 <= len(loaded.rows) <= 100 and not loaded.skipped
    rows = loaded.rows
    assert any(r["better_response_id"] != r["safer_response_id"] for r in rows)  # the tension MODPO trades off
    train, held = split_rows(rows, 0.1, seed=0)
    assert len(held) == math.ceil(0.1 * len(rows)) and len(train) + len(held) == len(rows)
    assert {r["prompt"] for r in train}.isdisjoint(r["prompt"] for r in held)
    assert split_rows(rows, 0.1, seed=0) == (train, held)
    safer = preference_pairs(rows[:3], "safer")
    r0 = rows[0]
    assert safer[0]["chosen"] == r0[f"response_{r0['safer_response_id']}"]
    assert safer[0]["prompt"] == [{"role": "user", "content": r0["prompt"]}]
    raw = preference_pairs(rows[:1], "better", "raw")[0]
    assert raw["prompt"] == f"BEGINNING OF CONVERSATION: USER: {r0['prompt']} ASSISTANT:"


GOOD = {"prompt": "p", "response_0": "a", "response_1": "b", "better_response_id": 0, "safer_response_id": 1}


@pytest.mark.parametrize("bad, field", [
    ({"better_response_id": 2}, "better_response_id"),
    ({"safer_response_id": True}, "safer_response_id"),
    ({"response_1": "a"}, "response_1"),
    ({"prompt": "  "}, "prompt"),
    ({"response_0": None}, "response_0"),
    ({"is_response_0_safe": "yes"}, "is_response_0_safe"),
])
def test_bad_rows_name_file_row_and_field(tmp_path, bad, field):
    path = tmp_path / "prefs.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + json.dumps({**GOOD, **bad}) + "\n")
    with pytest.raises(DataError) as err:
        load_saferlhf(path)
    assert err.value.field == field and err.value.where == f"{path}:row 1"
    assert str(path) in str(err.value) and "row 1" in str(err.value) and field in str(err.value)
    skipped = load_saferlhf(path, skip_bad=True)
    assert len(skipped.rows) == 1 and len(skipped.skipped) == 1 and "1 skipped" in skipped.report()


def test_missing_field_and_local_hub_copy_through_datasets(tmp_path):
    row = dict(GOOD)
    del row["safer_response_id"]
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "train.jsonl").write_text(json.dumps(GOOD) + "\n" + json.dumps({**GOOD, "prompt": "q",
                                                                                          "safer_response_id": 5}))
    with pytest.raises(DataError, match=r"bad:row 1: field 'safer_response_id'"):
        load_saferlhf(tmp_path / "bad")  # a folder: datasets.load_dataset, as the Hub id on Colab
    with pytest.raises(DataError, match="field 'safer_response_id': missing"):
        load_saferlhf([row])
    from datasets import Dataset

    rows = [json.loads(l) for l in SAMPLE_FILE.read_text().splitlines()[:5]]
    Dataset.from_list(rows).save_to_disk(str(tmp_path / "saved"))  # a save_to_disk copy
    assert load_saferlhf(tmp_path / "saved").rows == load_saferlhf(SAMPLE_FILE, limit=5).rows


def test_guard_safety_labels_ties_and_unparsed():
    rows = [{**GOOD, "prompt": str(i), "safer_response_id": 0} for i in range(5)]
    verdicts = [("harmful", "unharmful"), ("unharmful", "harmful"), ("harmful", "harmful"), (None, "unharmful"),
                ("unharmful", "unharmful")]
    kept, counts = relabel_safer(rows, verdicts, "guard")
    assert [r["safer_response_id"] for r in kept] == [1, 0, 0, 0, 0]  # ties and unparsed keep the dataset's id
    assert [r["safer_source"] for r in kept] == ["guard", "guard", "dataset", "dataset", "dataset"]
    assert counts == {"decided": 2, "agree_with_dataset": 1, "ties": 2, "unparsed": 1, "dropped": 0, "kept": 5}
    strict, counts = relabel_safer(rows, verdicts, "guard-strict")
    assert [r["prompt"] for r in strict] == ["0", "1"] and counts["dropped"] == 3 and counts["kept"] == 2


def test_config_refuses_bad_modpo_values():
    from gr_colab.config import ConfigError, GRConfig

    for bad in ({"modpo_weights": [0.0, 0.5]}, {"modpo_weights": [0.5, 0.5]}, {"modpo_weights": []},
                {"modpo_safety_labels": "maybe"}, {"modpo_test_fraction": 0.0}, {"modpo_beta": 0}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            GRConfig.load("cpu-tiny", **bad)


def test_exercise_checker_rejects_a_wrong_answer(capsys):
    from gr_colab.exercises import check_09

    assert "Not answered" in check_09(None)
    assert "Not quite" in check_09(-math.log(_sig(0.2)))  # the answer without the safety margin
    assert "Not quite" in check_09(0.0)
    assert "Correct" in check_09(-math.log(_sig((0.2 - 0.5 * 0.5) / 0.5)))


# --- end to end on the twin ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A short R-SFT guard, then the whole chapter (guard labels, both DPO steps, margins, three w, the front)."""
    from gr_colab.config import GRConfig
    from gr_colab.modpo import run_modpo
    from gr_colab.pipeline import run_stage

    cfg = GRConfig.load("cpu-tiny", run_dir=str(tmp_path_factory.mktemp("modpo")), rsft_max_steps=10,
                        eval_limit=1, max_new_tokens=48, modpo_limit=40, modpo_max_steps=2, modpo_batch_size=2,
                        modpo_eval_prompts=3, modpo_max_new_tokens=8, modpo_safety_labels="guard")
    run_stage(cfg, "prepare")
    run_stage(cfg, "rsft")
    return cfg, run_modpo(cfg)


@pytest.mark.slow
def test_two_steps_and_the_sweep_end_to_end(swept):
    from gr_colab.runs import MARKER as COMPLETE_MARKER

    cfg, summary = swept
    out = cfg.path / "modpo"
    train = [json.loads(l) for l in (out / "data" / "train.jsonl").read_text().splitlines()]
    assert len(train) == 36 and summary["train_pairs"] == 36
    labels = summary["safety_labels"]  # the guard judged both answers of every training row
    assert labels["decided"] + labels["ties"] + labels["unparsed"] == 36 == labels["kept"]
    assert len((out / "safety_labels" / "guard_predictions.jsonl").read_text().splitlines()) == 72
    for name in ("reward_safety", "reward_helpful", "w_0.1", "w_0.5", "w_0.9"):  # step 1, the judge, step 2
        assert (out / name / "adapter" / "adapter_model.safetensors").exists()
        assert (out / name / "adapter" / COMPLETE_MARKER).exists()
    pairs = [json.loads(l) for l in (out / "margins.jsonl").read_text().splitlines()]
    assert len(pairs) == 36 and len({round(p["margin_chosen"], 6) for p in pairs}) > 1  # one margin per pair
    assert pairs[0]["chosen"] == train[0][f"response_{train[0]['better_response_id']}"]
    logged = json.loads((out / "w_0.5" / "adapter" / COMPLETE_MARKER).read_text())
    assert logged["global_step"] == 2 and logged["w"] == 0.5  # the adapter's marker: what finished it
    csv_head = (out / "w_0.5" / "curves.csv").read_text().splitlines()[0]
    assert "safety_margin/chosen" in csv_head  # the margins reached MODPO's loss

    front = summary["front"]
    assert [e["w"] for e in front] == [0.1, 0.5, 0.9] and summary["reference"]["w"] is None
    for e in front + [summary["reference"]]:
        assert e["answers"] == 3 and 0.0 <= e["harmful_rate"] <= 1.0
        assert e["harmful_rate"] * 3 + e["unparsed"] <= 3
        assert all(math.isfinite(e[k]) for k in ("helpfulness", "cost"))
    assert abs(summary["reference"]["helpfulness"]) > 0 or abs(summary["reference"]["cost"]) > 0
    scores = [json.loads(l) for l in (out / "scores.jsonl").read_text().splitlines()]
    assert len(scores) == 12 and {s["verdict"] for s in scores} <= {"harmful", "unharmful", None}
    assert (out / "front.png").stat().st_size > 0 and json.loads((out / "front.json").read_text())["front"] == front
    # w changes the model: the adapters of w = 0.1 and w = 0.9 are not the same weights
    from safetensors.torch import load_file

    a, b = (load_file(str(out / n / "adapter" / "adapter_model.safetensors")) for n in ("w_0.1", "w_0.9"))
    assert any(not torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_cli_last_line_is_the_front_as_json(swept, capsys):
    from gr_colab.cli import main

    cfg, summary = swept
    sets = ["modpo_limit=40", "modpo_eval_prompts=3", "modpo_weights=[0.1, 0.5, 0.9]"]
    code = main(["modpo", "--preset", "cpu-tiny", "--run-dir", str(cfg.path), "--force",
                 *[a for s in sets for a in ("--set", s)]])
    assert code == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    parsed = json.loads(last)
    assert [e["w"] for e in parsed["front"]] == [0.1, 0.5, 0.9]
    for got, want in zip(parsed["front"], summary["front"]):
        assert set(got) == {"w", "helpfulness", "cost", "harmful_rate"}
        assert got == {k: want[k] for k in got}
    assert parsed["reference"]["helpfulness"] == summary["reference"]["helpfulness"]


def test_a_judge_that_gives_one_verdict_is_flagged():
    from gr_colab.modpo import judge_warnings

    alike = [{"verdict": "unharmful"}] * 4 + [{"verdict": None}]
    assert judge_warnings(alike) == ["the guard judged all 4 parsed answers 'unharmful': harmful_rate cannot tell "
                                     "the models apart (cost and helpfulness still can); a guard that reads its input "
                                     "needs more R-SFT steps or rows"]
    assert judge_warnings(alike + [{"verdict": "harmful"}]) == []
    assert judge_warnings([{"verdict": "harmful"}, {"verdict": None}]) == []  # one parsed answer is no evidence


def test_cli_without_a_guard_or_data_is_one_clear_line(tmp_path, capsys):
    from gr_colab.cli import main

    code = main(["modpo", "--preset", "cpu-tiny", "--run-dir", str(tmp_path), "--set",
                 f"modpo_guard_adapter={tmp_path / 'nowhere'}"])
    assert code == 2 and "modpo_guard_adapter" in capsys.readouterr().err
