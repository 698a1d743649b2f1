"""Write seeds.jsonl: the seed requests of the red-teaming chapter (notebook 08), from the kit's own training rows.

Standard library only, deterministic. Every user request of ``sample_data/train/*.json`` that is one line of at
most 160 characters (so no multi-line jailbreak wrapper) becomes a seed, labelled with that row's own Task 1 answer
(``Request: harmful|unharmful`` of its Answers block), first occurrence kept. Run from the repository root:

    python sample_data/redteam/make_seeds.py
"""
import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
TRAIN = HERE.parent / "train"
FILES = ["WildGuardTrainR.json", "AegisTrainR.json", "BeaverTailsTrainR.json", "ToxicChatTrainR.json"]
MAX_CHARS = 160
HEAD, SEP = "Human user:\n", "\n\nAI assistant:\n"
REQUEST = re.compile(r"Answers: \nRequest: (harmful|unharmful)\n")


def seeds() -> list:
    out, seen = [], set()
    for name in FILES:
        for i, row in enumerate(json.loads((TRAIN / name).read_text(encoding="utf-8"))):
            prompt = row["input"][len(HEAD):].rsplit(SEP, 1)[0]
            label = REQUEST.search(row["output"])
            if label is None:
                raise SystemExit(f"{name} row {i}: no 'Request:' answer in its output")
            if prompt in seen or "\n" in prompt or len(prompt) > MAX_CHARS:
                continue
            seen.add(prompt)
            out.append({"id": f"seed-{len(out):03d}", "request": prompt, "label": label.group(1),
                        "source": f"sample_data/train/{name} row {i}"})
    return out


if __name__ == "__main__":
    rows = seeds()
    (HERE / "seeds.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                      encoding="utf-8")
    harmful = sum(r["label"] == "harmful" for r in rows)
    print(f"wrote {len(rows)} seeds ({harmful} harmful, {len(rows) - harmful} unharmful) "
          "to sample_data/redteam/seeds.jsonl")
