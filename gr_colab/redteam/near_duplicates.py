"""Near-duplicate requests: MinHash over word unigrams, and an optional semantic pass.

ReverseGen's ``minhash.sh``: 128 permutations, Jaccard threshold 0.78, through ``datasketch``'s LSH index so it is
not quadratic; of a near-duplicate pair the later text is dropped. The optional second filter is ReverseGen's
SemDeDup, here through ``semhash``. No torch: checkable by hand.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Sequence

NUM_PERM = 128
THRESHOLD = 0.78
_WORD = re.compile(r"\w+")


def shingles(text: str) -> set:
    """Word unigrams, lower-cased: what MinHash hashes (punctuation is not a word)."""
    return set(_WORD.findall(text.lower()))


def minhashes(texts: Sequence[str], num_perm: int = NUM_PERM, seed: int = 1) -> list:
    from datasketch import MinHash

    return MinHash.bulk([[w.encode("utf-8") for w in sorted(shingles(t))] for t in texts], num_perm=num_perm,
                        seed=seed)


class NearIndex:
    """Texts in a MinHash LSH index: which indexed text does a new one nearly copy? LSH finds the candidates
    (sub-quadratic); each is then checked with the MinHash Jaccard estimate itself, so an LSH false positive below
    the threshold does not count."""

    def __init__(self, threshold: float = THRESHOLD, num_perm: int = NUM_PERM):
        from datasketch import MinHashLSH

        self.threshold, self.num_perm = threshold, num_perm
        self.lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self.hashes: list = []

    def add(self, m) -> int:
        self.lsh.insert(len(self.hashes), m)
        self.hashes.append(m)
        return len(self.hashes) - 1

    def near(self, m) -> Optional[int]:
        """The earliest indexed text whose estimated Jaccard with ``m`` reaches the threshold, or None."""
        hits = [k for k in self.lsh.query(m) if m.jaccard(self.hashes[k]) >= self.threshold]
        return min(hits) if hits else None

    @classmethod
    def of(cls, texts: Sequence[str], threshold: float = THRESHOLD, num_perm: int = NUM_PERM) -> "NearIndex":
        index = cls(threshold, num_perm)
        for m in minhashes(texts, num_perm):
            index.add(m)
        return index


@dataclass
class Dedup:
    kept: list  # indices into the input, in input order
    dropped: dict  # index -> the earlier kept index it nearly copies
    dropped_against: dict  # index -> the index in ``against`` it nearly copies
    empty: list  # indices of texts without a single word (nothing to compare, nothing to keep)

    @property
    def n_dropped(self) -> int:
        """Near-duplicates dropped (empty texts are counted apart)."""
        return len(self.dropped) + len(self.dropped_against)


def dedup(texts: Sequence[str], threshold: float = THRESHOLD, num_perm: int = NUM_PERM,
          against: Sequence[str] = ()) -> Dedup:
    """Keep a text unless its estimated Jaccard similarity (word unigrams) with a text of ``against`` or with an
    earlier kept text reaches ``threshold`` (of a near-duplicate pair the second is dropped, as ReverseGen)."""
    old = NearIndex.of(against, threshold, num_perm) if against else None
    new = NearIndex(threshold, num_perm)
    out = Dedup([], {}, {}, [])
    for i, (text, m) in enumerate(zip(texts, minhashes(texts, num_perm))):
        if not shingles(text):
            out.empty.append(i)
            continue
        j = old.near(m) if old is not None else None
        if j is not None:
            out.dropped_against[i] = j
            continue
        k = new.near(m)
        if k is not None:
            out.dropped[i] = out.kept[k]
            continue
        new.add(m)
        out.kept.append(i)
    return out


def semantic_dedup(texts: Sequence[str], threshold: float, model) -> list:
    """Indices kept by the optional semantic pass (ReverseGen's second filter is SemDeDup, embedding clustering):
    ``semhash`` embeds each text with ``model`` (an encoder with ``encode(list[str])``, by default model2vec's static
    embeddings from the Hub) and drops a text whose cosine similarity with a kept one reaches ``threshold``."""
    from semhash import SemHash

    if not texts:
        return []
    records = [{"i": str(i), "text": t} for i, t in enumerate(texts)]
    result = SemHash.from_records(records, columns=["text"], model=model).self_deduplicate(threshold)
    return sorted(int(r["i"]) for r in result.selected)


def semantic_pass(config, rows: list, model=None) -> list:
    """The optional second filter (``redteam_semantic_threshold``): semhash over ``redteam_semantic_model``'s
    embeddings (downloaded from the Hub: Colab, not the offline CPU tests); off by default."""
    if config.redteam_semantic_threshold is None or not rows:
        return rows
    if model is None:
        from model2vec import StaticModel

        model = StaticModel.from_pretrained(config.redteam_semantic_model)
    return [rows[i] for i in semantic_dedup([r["request"] for r in rows], config.redteam_semantic_threshold, model)]
