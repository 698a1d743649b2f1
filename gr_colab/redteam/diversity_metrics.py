"""How diverse the proposals are: Self-BLEU as Texygen computes it, and distinct-n.

Self-BLEU: nltk's ``sentence_bleu`` of each text against all the others, smoothing ``method1``, uniform weights over
1..n-grams, for n = 2..5 (lower is more diverse); distinct-n = unique n-grams / all n-grams (Li et al. 2016).
"""
from __future__ import annotations

import random
from typing import Optional, Sequence

SELF_BLEU_NS = (2, 3, 4, 5)


def tokens(text: str) -> list:
    """nltk's regex word/punctuation tokenizer (Texygen uses ``word_tokenize``, which needs a download)."""
    from nltk.tokenize import wordpunct_tokenize

    return wordpunct_tokenize(text)


def distinct_n(texts: Sequence[str], n: int) -> Optional[float]:
    """Unique n-grams over all n-grams of all texts (Li et al. 2016); None when there is no n-gram. A few lines,
    so by hand."""
    grams = [g for t in texts for g in zip(*[tokens(t)[k:] for k in range(n)])]
    return len(set(grams)) / len(grams) if grams else None


def self_bleu(texts: Sequence[str], n: int, max_texts: int = 500, seed: int = 0) -> Optional[float]:
    """Texygen's Self-BLEU-n: the mean over texts of BLEU(text, every other text), weights 1/n over 1..n-grams,
    nltk smoothing method1. Above ``max_texts`` a seeded sample of hypotheses is scored (Texygen samples 500).
    None with fewer than two texts."""
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    toks = [tokens(t) for t in texts if tokens(t)]
    if len(toks) < 2:
        return None
    idx = list(range(len(toks)))
    if len(idx) > max_texts:
        idx = sorted(random.Random(seed).sample(idx, max_texts))
    weights = tuple(1.0 / n for _ in range(n))
    smooth = SmoothingFunction().method1
    scores = [sentence_bleu(toks[:i] + toks[i + 1:], toks[i], weights, smoothing_function=smooth) for i in idx]
    return sum(scores) / len(scores)


def diversity(texts: Sequence[str]) -> dict:
    """Self-BLEU-2..5, their mean (``self_bleu``: lower is more diverse), distinct-1 and distinct-2."""
    by_n = {n: self_bleu(texts, n) for n in SELF_BLEU_NS}
    known = [v for v in by_n.values() if v is not None]
    return {"self_bleu": sum(known) / len(known) if known else None,
            "self_bleu_by_n": {str(n): v for n, v in by_n.items()},
            "distinct_1": distinct_n(texts, 1), "distinct_2": distinct_n(texts, 2)}
