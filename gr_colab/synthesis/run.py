"""The run: estimate, then request what is not cached (in parallel, with retries), filter, and write the datasets.

Its own module because this is the orchestration, the one place that ties items, recipe, teacher and cache
together, holds the lock on the cache, and decides what a reject is and where the outputs go.
"""
from __future__ import annotations

import json
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

from filelock import FileLock, Timeout

from ..prompts import SIX_POLICIES
from ..runtime import atomic_write_json, atomic_write_text
from .cache import ResponseCache, cache_key
from .items import GUARDREASONER, SIX_POLICY, Item
from .recipe import REJECT_KINDS, Estimate, check_trace, estimate, teacher_messages
from .teachers import RequestFailed, RetryPolicy, TeacherFatal, request_with_retries

TRAIN_FILE, POLICY_FILE = "synth_train.json", "training_data.json"
REJECTS_FILE, SUMMARY_FILE = "rejects.jsonl", "summary.json"


@dataclass
class Reject:
    item: Item
    kind: str
    reason: str
    text: Optional[str] = None

    def line(self) -> str:
        return f"  - {self.item.id} [{self.item.source or self.item.task_format}] {self.kind}: {self.reason}"


@dataclass
class SynthesisResult:
    teacher: str
    items: list
    texts: list  # per item: the teacher's text, or None when the request failed
    rejects: list
    from_cache: int = 0
    requested: int = 0
    retries: dict = field(default_factory=dict)  # error description -> how many retries it caused
    usage: dict = field(default_factory=dict)
    seconds: float = 0.0
    estimate: Optional[Estimate] = None
    paths: dict = field(default_factory=dict)

    @property
    def accepted(self) -> list:
        """(item, trace) pairs that passed the filter, in input order."""
        bad = {id(r.item) for r in self.rejects}
        return [(it, t) for it, t in zip(self.items, self.texts) if t is not None and id(it) not in bad]

    def counts(self) -> dict:
        by_kind: dict = {}
        for r in self.rejects:
            by_kind[r.kind] = by_kind.get(r.kind, 0) + 1
        return {"items": len(self.items), "accepted": len(self.accepted), "rejected": len(self.rejects),
                "rejects_by_kind": by_kind, "requested": self.requested, "from_cache": self.from_cache,
                "retries": dict(self.retries), "usage": dict(self.usage), "seconds": round(self.seconds, 2)}

    def summary(self) -> str:
        c = self.counts()
        kinds = ", ".join(f"{REJECT_KINDS.get(k, k)} {n}" for k, n in sorted(c["rejects_by_kind"].items()))
        retries = ", ".join(f"{k} {n}" for k, n in sorted(self.retries.items()))
        lines = [f"synthesis with {self.teacher}: {c['items']} items, {c['accepted']} accepted, "
                 f"{c['rejected']} rejected" + (f" ({kinds})" if kinds else ""),
                 f"  {c['requested']} requested in this run, {c['from_cache']} answered from the cache; "
                 f"{sum(self.retries.values())} retries" + (f" ({retries})" if retries else "") +
                 f"; {c['seconds']} s"]
        if self.usage.get("prompt_tokens") or self.usage.get("completion_tokens"):
            lines.append(f"  tokens reported for this run: {self.usage.get('prompt_tokens', 0):,} in, "
                         f"{self.usage.get('completion_tokens', 0):,} out")
        return "\n".join(lines)

    def rejects_report(self, limit: int = 20) -> str:
        if not self.rejects:
            return "no rejects"
        lines = [f"{len(self.rejects)} rejects:"] + [r.line() for r in self.rejects[:limit]]
        if len(self.rejects) > limit:
            lines.append(f"  … and {len(self.rejects) - limit} more (all in {REJECTS_FILE})")
        return "\n".join(lines)

    def train_rows(self) -> list:
        """GuardReasonerTrain rows of the accepted three-task traces (plus the source ``dataset``)."""
        return [{"instruction": it.instruction, "input": it.input, "output": text, "dataset": it.source or "synth"}
                for it, text in self.accepted if it.task_format == GUARDREASONER]

    def policy_data(self) -> tuple[dict, list]:
        """(training_data.json content, samples left out): a sample goes in only with all its six traces kept."""
        kept = {(it.content, it.policy): text for it, text in self.accepted if it.task_format == SIX_POLICY}
        samples, traces, left_out, seen = [], {}, [], set()
        for it in self.items:
            if it.task_format != SIX_POLICY or it.content in seen:
                continue
            seen.add(it.content)
            missing = [p for p in SIX_POLICIES if (it.content, p) not in kept]
            if missing:
                left_out.append(f"{it.content[:60]!r}: no kept trace for {', '.join(missing)}")
                continue
            idx = len(samples)
            samples.append({"content": it.content, "labels": list(it.labels), "source": it.source})
            for p in SIX_POLICIES:
                traces[f"sample_{idx}_{p}"] = {"reasoning": kept[(it.content, p)],
                                               "classification": "UNSAFE" if p in it.labels else "SAFE"}
        return {"samples": samples, "reasoning_traces": traces}, left_out

    def write(self, out_dir: Union[str, Path]) -> dict:
        """synth_train.json and/or training_data.json (whichever formats the items had), rejects.jsonl and
        summary.json; each written whole to a temporary file and renamed into place."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths: dict = {}
        if any(it.task_format == GUARDREASONER for it in self.items):
            paths["train"] = atomic_write_json(out / TRAIN_FILE, self.train_rows())
        if any(it.task_format == SIX_POLICY for it in self.items):
            data, left_out = self.policy_data()
            paths["six_policy"] = atomic_write_json(out / POLICY_FILE, data)
            if left_out:
                print(f"{POLICY_FILE}: {len(left_out)} samples left out (a sample needs all six traces):")
                for line in left_out[:10]:
                    print(f"  - {line}")
        rejects = [{"id": r.item.id, "source": r.item.source, "kind": r.kind, "reason": r.reason,
                    "gold": r.item.gold, "text": (r.text or "")[:1000]} for r in self.rejects]
        paths["rejects"] = atomic_write_text(out / REJECTS_FILE,
                                             "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rejects))
        summary = {"teacher": self.teacher, **self.counts(),
                   "estimate": self.estimate.describe() if self.estimate else None,
                   "files": {k: str(v) for k, v in paths.items()}}
        paths["summary"] = atomic_write_json(out / SUMMARY_FILE, summary)
        self.paths = paths
        return paths


class BudgetExceeded(RuntimeError):
    """The estimate is over the budget the caller set; nothing was sent."""


def _run_lock(cache_path: Path) -> FileLock:
    """An exclusive lock beside the cache, so two runs never append to one cache at once (the OS frees it when the
    process dies, a kill included)."""
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(cache_path.with_name(cache_path.name + ".lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise RuntimeError(f"another synthesis run is using {cache_path}; wait for it or stop it") from None
    return lock


def synthesize(items: Sequence[Item], teacher, cache: Union[ResponseCache, str, Path], *,
               out_dir: Union[str, Path, None] = None, concurrency: int = 4, retry: Optional[RetryPolicy] = None,
               price_in_per_m: Optional[float] = None, price_out_per_m: Optional[float] = None,
               expected_output_tokens: Optional[int] = None, budget_usd: Optional[float] = None,
               progress: bool = True) -> SynthesisResult:
    """Write a trace for every item not in the cache, keep those the parser agrees with, write the datasets.

    Prints the token and cost estimate first (and stops before any request when it is over ``budget_usd``), then
    the summary and the rejects. At most ``concurrency`` requests are in flight (a LocalTeacher batches instead).
    """
    retry = retry or RetryPolicy()
    cache_path = cache.path if isinstance(cache, ResponseCache) else Path(cache)
    lock = _run_lock(cache_path)
    try:
        cache = cache if isinstance(cache, ResponseCache) else ResponseCache(cache_path)
        if cache.torn_tail or cache.ignored_lines:
            print(cache.describe())
        temperature = float(getattr(teacher, "temperature", 0.0))
        est = estimate(items, teacher.model, price_in_per_m, price_out_per_m, expected_output_tokens, cache=cache,
                       temperature=temperature, tokenizer=getattr(teacher, "tokenizer", None))
        print(est.describe())
        if budget_usd is not None and est.cost_usd is not None and est.cost_usd > budget_usd:
            raise BudgetExceeded(f"the estimate (${est.cost_usd:,.2f}) is over budget_usd=${budget_usd:,.2f}; "
                                 "nothing was sent. Use fewer items, a cheaper model, or raise the budget")
        result = _run(items, teacher, cache, retry, concurrency, temperature, progress)
        result.estimate = est
    finally:
        lock.release()
    print(result.summary())
    if result.rejects:
        print(result.rejects_report())
    if out_dir is not None:
        for name, path in result.write(out_dir).items():
            print(f"wrote {path}")
    return result


def _run(items, teacher, cache: ResponseCache, retry: RetryPolicy, concurrency: int, temperature: float,
         progress: bool) -> SynthesisResult:
    start = time.monotonic()
    keys, messages_of = [], {}
    for item in items:
        messages = teacher_messages(item)
        key = cache_key(teacher.model, messages, temperature)
        keys.append(key)
        messages_of.setdefault(key, (messages, item))
    todo = [k for k in messages_of if k not in cache]
    result = SynthesisResult(teacher.model, list(items), [None] * len(items), [])
    result.from_cache = len(messages_of) - len(todo)
    failures: dict = {}
    lock = threading.Lock()
    stop = threading.Event()
    fatal: list = []

    def record(key: str, text: str, usage: dict, errors: list, seconds: float) -> None:
        item = messages_of[key][1]
        cache.put(key, {"model": teacher.model, "temperature": temperature, "item": item.id, "text": text,
                        "usage": usage, "seconds": round(seconds, 3), "at": time.strftime("%Y-%m-%dT%H:%M:%S")})
        with lock:
            result.requested += 1
            for e in errors:
                result.retries[e] = result.retries.get(e, 0) + 1
            for k in ("prompt_tokens", "completion_tokens"):
                if isinstance(usage.get(k), int):
                    result.usage[k] = result.usage.get(k, 0) + usage[k]

    def one(key: str) -> None:
        if stop.is_set():
            return
        t0 = time.monotonic()
        try:
            text, usage, errors = request_with_retries(teacher, messages_of[key][0], retry, stop)
        except RequestFailed as exc:
            with lock:
                failures[key] = exc.reason
                result.requested += 1
                for e in exc.errors[:-1]:
                    result.retries[e] = result.retries.get(e, 0) + 1
            return
        except TeacherFatal as exc:
            fatal.append(str(exc))
            stop.set()
            return
        record(key, text, usage, errors, time.monotonic() - t0)

    bar = _progress(len(todo), progress, teacher.model)
    try:
        if hasattr(teacher, "complete_batch"):  # a local model: batches, one after the other
            size = max(1, int(getattr(teacher, "batch_size", 8)))
            for i in range(0, len(todo), size):
                part = todo[i:i + size]
                t0 = time.monotonic()
                outs = teacher.complete_batch([messages_of[k][0] for k in part])
                for k, (text, usage) in zip(part, outs):
                    record(k, text, usage, [], (time.monotonic() - t0) / len(part))
                bar(len(part))
        else:
            with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="teacher") as pool:
                pending = {pool.submit(one, k) for k in todo}
                try:
                    while pending:
                        done, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
                        bar(len(done))
                        for f in done:
                            f.result()
                except BaseException:  # Ctrl-C or a bug: stop new requests; what came back is in the cache
                    stop.set()
                    for f in pending:
                        f.cancel()
                    raise
    finally:
        bar(None)
    result.seconds = time.monotonic() - start
    if fatal:
        raise TeacherFatal(f"the teacher refused the run: {fatal[0]}. {len(cache)} responses are cached; "
                           "fix the cause and run again (nothing cached is requested twice)")
    for pos, (item, key) in enumerate(zip(items, keys)):
        if key in failures:
            result.rejects.append(Reject(item, "failed", failures[key]))
            continue
        text = cache.get(key)["text"].strip()
        result.texts[pos] = text
        kind, reason = check_trace(item, text)
        if kind:
            result.rejects.append(Reject(item, kind, reason, text))
    return result


def _progress(total: int, enabled: bool, desc: str) -> Callable:
    if not enabled or total == 0:
        return lambda n: None
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=f"teacher {desc}", leave=False)

    def update(n):
        if n is None:
            bar.close()
        elif n:
            bar.update(n)
    return update
