"""Batched generation and evaluation on the CPU twin, end to end on the bundled evaluation set."""
import json

import pytest

from gr_colab.evaluate import BENCHMARKS, benchmark_items, evaluate, find_benchmarks, score_run
from gr_colab.generate import GenerationSettings, generate, guard_text, read_jsonl, run_predictions


@pytest.fixture(scope="module")
def texts(twin):
    items = benchmark_items(find_benchmarks(["XSTestResponseRefusal"])[0], limit=5)
    items += benchmark_items(find_benchmarks(["SimpleSafetyTests"])[0], limit=4)
    return [guard_text(twin.tokenizer, it["input"]) for it in items]


def test_registry_names_the_papers_13_benchmarks():
    assert len(BENCHMARKS) == 13
    assert {b.task for b in BENCHMARKS.values()} == {"request", "response", "completion"}
    assert all(b.source and b.license for b in BENCHMARKS.values())
    with pytest.raises(ValueError, match="unknown benchmark"):
        find_benchmarks(["NoSuchBench"])


def test_batched_greedy_equals_per_item_greedy(twin, texts):
    settings = GenerationSettings(max_new_tokens=24, batch_size=4)
    batched = generate(twin, texts, settings, progress=False)
    single = generate(twin, texts, GenerationSettings(max_new_tokens=24, batch_size=1), progress=False)
    assert batched == single
    assert len(batched) == len(texts) and all(len(x) == 1 for x in batched)


def test_n_sample_mode_gives_k_outputs(twin, texts):
    out = generate(twin, texts[:3], GenerationSettings(max_new_tokens=8, batch_size=2, do_sample=True,
                                                       temperature=1.0, top_p=0.95, num_samples=3), progress=False)
    assert [len(o) for o in out] == [3, 3, 3]


def test_restart_skips_items_already_written_and_redoes_a_torn_line(twin, tmp_path, monkeypatch):
    import gr_colab.generate as g

    items = [{"id": i, "input": f"Human user:\nq{i}\n\nAI assistant:\nNone\n\n", "label": "harmful"} for i in range(5)]
    path = tmp_path / "p" / "generated_predictions.jsonl"
    settings = GenerationSettings(max_new_tokens=4, batch_size=2)
    run_predictions(twin, items[:3], path, settings, progress=False)
    with path.open("a") as f:
        f.write('{"id": 3, "prompt": "cut off')  # a kill in the middle of a write
    seen = []
    real = g.generate
    monkeypatch.setattr(g, "generate", lambda loaded, texts, s, progress=True:
                        seen.append(len(texts)) or real(loaded, texts, s, progress=False))
    rows = run_predictions(twin, items, path, settings, progress=False)
    assert seen == [2]  # only items 3 and 4
    assert [r["id"] for r in rows] == [0, 1, 2, 3, 4]
    assert set(rows[0]) >= {"prompt", "label", "predict"}
    assert len(read_jsonl(path)) == 5


@pytest.mark.slow
def test_evaluation_end_to_end_on_the_bundled_set(twin, twin_config, tmp_path):
    cfg = twin_config.replace(run_dir=str(tmp_path), eval_limit=3, max_new_tokens=16)
    report = evaluate(cfg, twin, "base", progress=False)
    out = tmp_path / "eval" / "base"
    for b in find_benchmarks(cfg.eval_benchmarks):
        rows = read_jsonl(out / f"{b.name}-{b.task}" / "generated_predictions.jsonl")
        assert len(rows) == 3 and all(set(r) >= {"prompt", "label", "predict"} for r in rows)
    assert (out / "report.md").exists() and (out / "report.json").exists()
    assert sorted(p.name for p in out.glob("f1_*.png")) == ["f1_completion.png", "f1_request.png", "f1_response.png"]
    assert {s.mode for s in report.scores} == {"official", "corrected"}
    again = score_run(out, find_benchmarks(cfg.eval_benchmarks))
    assert json.dumps(again.to_json()) == json.dumps(report.to_json())
