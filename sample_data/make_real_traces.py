"""Training rows from the released GuardReasoner-1B outputs, for the real-model lane's benchmark.

Reads `predictions/guardreasoner-1b/` (the model's outputs on three benchmarks, from the GuardReasoner repository,
MIT) and keeps, as `{instruction, input, output}` rows, the outputs whose strictly parsed verdict agrees with the
benchmark's gold label on its task: real reasoning traces written by a trained guard. SimpleSafetyTests and XSTest
refusal are left out on purpose: `benchmarks/real_lane.py` evaluates on them. Run from the repo root:
`python sample_data/make_real_traces.py`.
"""
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from gr_colab.data import traces_from_predictions  # noqa: E402

SOURCES = {"AegisSafetyTest": "request", "HarmBenchPrompt": "request", "XSTestReponseHarmful": "response"}

if __name__ == "__main__":
    out = HERE / "real_traces"
    out.mkdir(exist_ok=True)
    for name, task in SOURCES.items():
        rows, kept_of = traces_from_predictions(HERE / "predictions" / "guardreasoner-1b" / name /
                                                "generated_predictions.jsonl", task)
        (out / f"{name}-1B.json").write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n")
        print(f"{name}: kept {len(rows)} of {kept_of} outputs (verdict agrees with gold on {task})")
