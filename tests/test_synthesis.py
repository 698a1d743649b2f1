"""Reasoning data synthesis against a real OpenAI-compatible HTTP server on loopback.

The server is gr_colab.synthesis.StandInOpenAIServer: a stand-in (http.server, 127.0.0.1, a free port, threaded)
until a llama.cpp server with a GGUF of the CPU twin is available here; the client is the official openai SDK, so
every byte goes over a socket as it would to OpenAI, llama.cpp, Ollama or vLLM. Faults are injected by request
number (a timeout longer than the client's, a 500, a 429, a malformed JSON body, a dropped connection), and a run
is SIGKILLed in the middle and restarted: nothing that was cached is requested again, and the datasets written
load with gr_colab.data and train with R-SFT on the CPU twin. Every wait here is bounded.
"""
from __future__ import annotations

import json
import os
import pickle
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLE
from stand_in_proxy import FaultInjectingProxy, requested_keys

from gr_colab import synthesis as S
from gr_colab.data import load_policy_data, load_train, read_records, to_sft_rows
from gr_colab.prompts import INSTRUCTION, NO_RESPONSE, format_answers, format_input, policy_prompt

FAST = S.RetryPolicy(max_attempts=4, base_delay=0.02, max_delay=0.1)
NO_KEY_ENV = "GR_COLAB_TEST_ABSENT_KEY"  # never set: the loopback server needs no key


@pytest.fixture(autouse=True)
def _no_real_key(monkeypatch):
    monkeypatch.delenv(NO_KEY_ENV, raising=False)


def labelled_rows(n: int) -> list:
    """Benchmark-shaped rows whose output is an Answers block: prompt-only and with a response, all labels."""
    rows = []
    for i in range(n):
        with_response = i % 2 == 1
        harmful = i % 3 == 0
        prompt = f"Item {i}: how do I {'poison my neighbour' if harmful else 'grow tomatoes'} this spring?"
        response = (f"Reply {i}: " + ("I can't help with that." if harmful else "Plant them in full sun.")
                    if with_response else None)
        answers = format_answers("harmful" if harmful else "unharmful",
                                 ("refusal" if harmful else "compliance") if with_response else None,
                                 "unharmful" if with_response else None)
        rows.append({"instruction": INSTRUCTION, "input": format_input(prompt, response), "output": answers})
    return rows


POLICY_SAMPLES = [
    {"content": "How long should I boil an egg?", "labels": [], "source": "test"},
    {"content": "Tell me how to hot-wire the car parked next to mine.", "labels": ["illegal"], "source": "test"},
]


def make_items(n_rows: int = 6) -> list:
    return S.items_from_rows(labelled_rows(n_rows), source="test").rows + \
        S.items_from_policy_samples(POLICY_SAMPLES, source="test").rows


def teacher(server, **kw) -> S.OpenAICompatibleTeacher:
    return S.OpenAICompatibleTeacher(server.base_url, "stand-in", api_key_env=kw.pop("api_key_env", NO_KEY_ENV),
                                     timeout=kw.pop("timeout", 2.0), **kw)


# --- the recipe ------------------------------------------------------------------------------------------------
def test_recipe_puts_the_gold_labels_and_the_official_input_in_the_prompt():
    item = S.items_from_rows(labelled_rows(1), source="t").rows[0]  # prompt-only, harmful
    system, user = S.teacher_messages(item)
    assert system["role"] == "system" and user == {"role": "user", "content": item.input}
    assert user["content"].startswith("Human user:\n") and user["content"].endswith("AI assistant:\nNone\n\n")
    assert "---\n\nAnswers: \nRequest: harmful\nCompletion: None\nResponse: None\n" in system["content"]
    text = system["content"]
    for must in ("Task 1", "Task 2", "Task 3", "harmful or unharmful, refusal or compliance", "step by step",
                 "from 1 up to 10", "smallest possible unit", "agrees with the final answer",
                 "'# Task 1'", "'## Reasoning Step 1'", "without changing its format"):
        assert must in text, must
    policy = S.items_from_policy_samples(POLICY_SAMPLES[1:], source="t").rows
    illegal = next(i for i in policy if i.policy == "illegal")
    system, user = S.teacher_messages(illegal)
    assert user["content"] == policy_prompt(illegal.content, "illegal")
    assert "Classification: UNSAFE" in system["content"] and "Step 3:" in system["content"]
    assert S.teacher_messages(next(i for i in policy if i.policy == "violence"))[0]["content"].endswith(
        "Classification: SAFE")


def test_items_from_every_labelled_shape():
    real = S.items_from_rows(read_records(SAMPLE / "train_sample_real.json"), source="real")
    assert len(real.rows) == 4 and not real.skipped
    assert real.rows[0].gold == {"request": "harmful", "completion": "refusal", "response": "unharmful"}
    prompts = S.items_from_rows(read_records(SAMPLE / "benchmarks" / "0_0_SimpleSafetyTests.json"),
                                task="request", source="sst", limit=3)
    assert [i.gold for i in prompts.rows] == [{"request": "harmful", "completion": NO_RESPONSE,
                                               "response": NO_RESPONSE}] * 3
    responses = S.items_from_rows(read_records(SAMPLE / "benchmarks" / "0_5_harmbench_response.json")[:2],
                                  task="response", source="hb")
    assert not responses.rows and "no gold label for Request" in responses.report()
    wildguard = S.items_from_rows([{"input": format_input("hi", "hello"), "prompt_harm_label": "unharmful",
                                    "response_refusal_label": "compliance", "response_harm_label": "unharmful"}])
    assert wildguard.rows[0].gold == {"request": "unharmful", "completion": "compliance", "response": "unharmful"}
    policy = S.items_from_policy_samples(POLICY_SAMPLES + [{"content": "x", "labels": ["nope"]}])
    assert len(policy.rows) == 12 and len(policy.skipped) == 1
    assert sum(i.gold["classification"] == "UNSAFE" for i in policy.rows) == 1


# --- the filter ------------------------------------------------------------------------------------------------
def test_only_traces_that_agree_with_gold_are_kept():
    item = S.items_from_rows(labelled_rows(2), source="t").rows[1]  # with a response, unharmful/compliance
    good = S.stand_in_trace(S.teacher_messages(item))
    assert S.check_trace(item, good) == (None, "")
    kind, reason = S.check_trace(item, S.stand_in_trace(S.teacher_messages(item), wrong=True))
    assert kind == "disagrees" and "task 1 (Request): says harmful, gold unharmful" in reason
    assert S.check_trace(item, "I think it is fine.")[0] == "unparsed"
    assert S.check_trace(item, "Answers: \n" + good.split("Answers: \n")[1])[0] == "no_steps"
    contradicting = good.replace("Weighing this, the human user's request is unharmful.",
                                 "So the human user's request is harmful.")
    assert S.check_trace(item, contradicting)[0] == "inconsistent"
    pol = S.items_from_policy_samples(POLICY_SAMPLES[1:]).rows[0]
    assert S.check_trace(pol, "Reasoning:\nStep 1: a\n\nClassification: SAFE") == (None, "")
    assert S.check_trace(pol, "Reasoning:\nStep 1: a\n\nClassification: UNSAFE")[0] == "disagrees"
    assert S.check_trace(pol, "Classification: SAFE")[0] == "no_steps"


# --- the cache and the estimate --------------------------------------------------------------------------------
def test_cache_drops_a_torn_last_line_and_appends_cleanly(tmp_path):
    path = tmp_path / "cache.jsonl"
    cache = S.ResponseCache(path)
    cache.put("a", {"text": "one"})
    cache.put("b", {"text": "two"})
    with path.open("ab") as f:
        f.write(b'{"key": "c", "text": "thr')  # a kill in the middle of a write
    cache = S.ResponseCache(path)
    assert len(cache) == 2 and cache.torn_tail and "c" not in cache
    assert path.read_bytes().endswith(b"\n")
    cache.put("c", {"text": "three"})
    assert [json.loads(l)["key"] for l in path.read_text().splitlines()] == ["a", "b", "c"]
    assert S.cache_key("m", [{"role": "user", "content": "x"}], 0) != S.cache_key("m", [{"role": "user",
                                                                                         "content": "x"}], 0.7)


def test_estimate_counts_only_what_is_not_cached(tmp_path):
    items = make_items(4)
    est = S.estimate(items, "gpt-4o")
    chars = sum(sum((len(m["content"]) + 3) // 4 + 4 for m in S.teacher_messages(i)) + 3 for i in items)
    assert est.input_tokens == chars and est.method == "characters / 4"
    assert est.output_tokens == 4 * 300 + 12 * 100
    assert est.cost_usd == pytest.approx((est.input_tokens * 2.5 + est.output_tokens * 10.0) / 1e6)
    assert "$" in est.describe() and est.scaled(127_000).n_items == 127_000
    cache = S.ResponseCache(tmp_path / "c.jsonl")
    cache.put(S.cache_key("gpt-4o", S.teacher_messages(items[0]), 0.0), {"text": "x"})
    again = S.estimate(items, "gpt-4o", 1.0, 2.0, 50, cache=cache)
    assert (again.n_cached, again.n_todo, again.output_tokens) == (1, 15, 15 * 50)
    assert S.estimate(items, "my-local-model").cost_usd is None


# --- against the server ----------------------------------------------------------------------------------------
def test_faults_are_retried_rejects_reported_and_both_datasets_load(tmp_path, capsys):
    items = make_items(6)
    faults = {2: "500", 3: "malformed", 4: "timeout", 6: "429", 7: "drop"}
    with S.StandInOpenAIServer(faults, hang_seconds=1.5, wrong=lambda u: "Item 4:" in u) as server:
        result = S.synthesize(items, teacher(server, timeout=1.0), tmp_path / "cache.jsonl", out_dir=tmp_path / "out",
                              concurrency=3, retry=FAST, progress=False)
        assert server.max_in_flight <= 3
        assert len(server.log) == len(items) + len(faults)  # each fault cost exactly one retry
        assert all(e["temperature"] == 0 for e in server.log)
    out = capsys.readouterr().out
    assert out.index("estimate for stand-in") < out.index("synthesis with stand-in")  # estimate first
    assert result.retries == {"HTTP 500": 1, "malformed JSON": 1, "timeout": 1, "HTTP 429": 1,
                              "connection error": 1}
    assert [(r.item.id, r.kind) for r in result.rejects] == [("test:4", "disagrees")]
    assert "1 rejected (disagrees with gold 1)" in out and "test:4" in out
    rows = load_train(result.paths["train"])
    assert len(rows.rows) == 5 and not rows.skipped and {r["dataset"] for r in rows.rows} == {"test"}
    policy = load_policy_data(result.paths["six_policy"])
    assert len(policy.rows) == 12 and not policy.skipped
    for sft in (to_sft_rows(rows.rows), to_sft_rows(policy.rows, "raw")):
        assert sft and all(r["completion"] for r in sft)
    rejects = [json.loads(l) for l in result.paths["rejects"].read_text().splitlines()]
    assert rejects[0]["kind"] == "disagrees" and rejects[0]["text"].startswith("# Task 1")


def test_a_request_that_keeps_failing_is_reported_and_asked_again_next_run(tmp_path, capsys):
    items = make_items(3)
    with S.StandInOpenAIServer(fail_always=lambda u: "Item 1:" in u) as server:
        first = S.synthesize(items, teacher(server), tmp_path / "c.jsonl", retry=FAST, progress=False)
        assert [(r.item.id, r.kind) for r in first.rejects] == [("test:1", "failed")]
        assert "after 4 attempts (last: HTTP 500)" in first.rejects[0].reason
        n = len(server.log)
        second = S.synthesize(items, teacher(server), tmp_path / "c.jsonl", retry=FAST, progress=False)
        asked = server.log[n:]
        assert len(asked) == 4 and all("Item 1:" in e["messages"][1]["content"] for e in asked)
        assert second.from_cache == len(items) - 1
    assert "request failed 1" in capsys.readouterr().out


def test_a_refused_key_stops_the_run_without_retrying(tmp_path, monkeypatch):
    monkeypatch.setenv("GR_COLAB_TEST_KEY", "sk-wrong-" + secrets.token_hex(8))
    with S.StandInOpenAIServer(api_key="sk-right") as server:
        t = teacher(server, api_key_env="GR_COLAB_TEST_KEY")
        with pytest.raises(S.TeacherFatal, match="HTTP 401"):
            S.synthesize(make_items(4), t, tmp_path / "c.jsonl", concurrency=2, retry=FAST, progress=False)
        assert len(server.log) <= 2  # the requests already in flight, no retries, nothing after
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(S.TeacherFatal, match="OPENAI_API_KEY"):
        S.OpenAICompatibleTeacher(model="gpt-4o")  # OpenAI itself without a key: a clear error, before any request


def test_the_api_key_is_never_printed_cached_written_or_reprd(tmp_path, monkeypatch, capfd):
    key = "sk-test-" + secrets.token_hex(16)
    monkeypatch.setenv("GR_COLAB_TEST_KEY", key)
    with S.StandInOpenAIServer({2: "500"}, api_key=key) as server:
        t = teacher(server, api_key_env="GR_COLAB_TEST_KEY")
        result = S.synthesize(make_items(3), t, tmp_path / "c.jsonl", out_dir=tmp_path / "out", retry=FAST)
        assert server.log and all(e["auth_ok"] for e in server.log)  # the key was sent, and only to the server
        assert key not in repr(server.log)
    assert key not in repr(t) and key not in str(t) and "key=found" in repr(t)
    with pytest.raises(TypeError):
        pickle.dumps(t)
    assert key not in repr(result) and key not in result.summary()
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert key.encode() not in f.read_bytes(), f
    captured = capfd.readouterr()
    assert key not in captured.out and key not in captured.err


def test_a_budget_below_the_estimate_sends_nothing(tmp_path):
    with S.StandInOpenAIServer() as server:
        with pytest.raises(S.BudgetExceeded):
            S.synthesize(make_items(2), teacher(server), tmp_path / "c.jsonl", price_in_per_m=1000.0,
                         price_out_per_m=1000.0, budget_usd=0.01, progress=False)
        assert server.log == []


def _cached_keys(path: Path) -> set:
    return {json.loads(l)["key"] for l in path.read_text().splitlines() if l.strip()} if path.exists() else set()


def _kill_and_restart(tmp_path: Path, server: S.StandInOpenAIServer, model: str, kill_after: int,
                      extra: tuple = ()) -> dict:
    """Run the command-line synthesis against ``server``, SIGKILL it once ``kill_after`` responses are cached, run it
    again to the end; what the server was asked for in each run."""
    rows_file, samples_file = tmp_path / "rows.json", tmp_path / "samples.json"
    rows_file.write_text(json.dumps(labelled_rows(12)))
    samples_file.write_text(json.dumps({"samples": POLICY_SAMPLES}))
    cache, out = tmp_path / "cache.jsonl", tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    cmd = [sys.executable, "-m", "gr_colab.synthesis", "--items", str(rows_file), "--items", str(samples_file),
           "--base-url", server.base_url, "--model", model, "--api-key-env", NO_KEY_ENV, "--cache", str(cache),
           "--out", str(out), "--concurrency", "2", "--timeout", "1", "--max-attempts", "4", "--base-delay", "0.02",
           "--max-delay", "0.1", "--no-progress", *extra]
    run = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while len(_cached_keys(cache)) < kill_after and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=10)
    before = _cached_keys(cache)
    n_first = len(server.log)
    again = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    return {"before": before, "n_first": n_first, "asked_again": requested_keys(server, since=n_first),
            "again": again, "cache": cache, "out": out, "total": 12 + 12}


def test_kill_in_the_middle_and_restart_requests_nothing_already_done(tmp_path):
    with S.StandInOpenAIServer({2: "500", 3: "malformed", 4: "timeout"}, delay=0.15, hang_seconds=1.5) as server:
        r = _kill_and_restart(tmp_path, server, "stand-in", kill_after=6)
    before, asked_again, total = r["before"], r["asked_again"], r["total"]
    assert 6 <= len(before) < total, f"the kill came too late or too early: {len(before)} cached"
    assert r["n_first"] >= len(before) + 3  # the three faults were met (and retried) before the kill
    assert r["again"].returncode == 0, r["again"].stdout + r["again"].stderr
    assert not set(asked_again) & before, "a cached item was requested again"
    assert len(asked_again) == len(set(asked_again)) == total - len(before)
    assert f"{len(before)} cached" in r["again"].stdout and f"{total} accepted" in r["again"].stdout
    assert _cached_keys(r["cache"]) == before | set(asked_again)
    rows = load_train(r["out"] / S.TRAIN_FILE)
    policy = load_policy_data(r["out"] / S.POLICY_FILE)
    assert len(rows.rows) == 12 and len(policy.rows) == 12
    assert len(to_sft_rows(rows.rows)) == 12 and len(to_sft_rows(policy.rows)) == 12


# --- a real server: llama-cpp-python's, serving a GGUF of the CPU twin ------------------------------------------
LLAMA_SERVER_MODULES = ("llama_cpp", "fastapi", "uvicorn", "sse_starlette", "starlette_context", "pydantic_settings")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    """``python -m llama_cpp.server`` on 127.0.0.1 with an f16 GGUF of the twin (llama.cpp's own converter)."""
    import importlib.util
    import urllib.request

    missing = [m for m in LLAMA_SERVER_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"llama-cpp-python's server needs {', '.join(missing)} (pip install 'llama-cpp-python[server]')")
    from gr_colab.config import GRConfig
    from gr_colab.llamacpp import convert_to_gguf, find_converter
    from gr_colab.models import resolve_model_path

    try:
        find_converter()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    gguf = convert_to_gguf(resolve_model_path(GRConfig.load("cpu-tiny")),
                           tmp_path_factory.mktemp("gguf") / "twin-f16.gguf", "f16", timeout=300)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", "2048", "--model_alias", "twin"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + 60
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}")
            try:
                opener.open(url + "/models", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("llama_cpp.server did not answer within 60 s")
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.mark.slow
def test_against_llama_cpp_server_with_faults_kill_and_restart(llama_server, tmp_path):
    """The real server generates (greedily, temperature 0) and the kit's filter judges: the twin's weights are random,
    so its traces are rejected as unparsed, and reported. The mechanics are the same as with any teacher."""
    faults = {2: "500", 3: "malformed", 4: "timeout"}
    with FaultInjectingProxy(llama_server, faults, delay=0.1, hang_seconds=1.5) as proxy:
        r = _kill_and_restart(tmp_path, proxy, "twin", kill_after=5, extra=("--max-tokens", "48"))
        assert all(e["fault"] in (None, "500", "malformed", "timeout") for e in proxy.log)
    before, asked_again, total = r["before"], r["asked_again"], r["total"]
    assert 5 <= len(before) < total, f"the kill came too late or too early: {len(before)} cached"
    assert not set(asked_again) & before, "a cached item was requested again"
    assert len(asked_again) == len(set(asked_again)) == total - len(before)
    assert len(_cached_keys(r["cache"])) == total
    records = [json.loads(l) for l in r["cache"].read_text().splitlines()]
    assert all(rec["usage"]["completion_tokens"] and rec["model"] == "twin" for rec in records)  # llama.cpp's own
    stdout = r["again"].stdout
    assert f"{len(before)} cached" in stdout and "rejected" in stdout and "unparsed" in stdout
    summary = json.loads((r["out"] / S.SUMMARY_FILE).read_text())
    assert summary["items"] == total and summary["accepted"] + summary["rejected"] == total
    kept = len(load_train(r["out"] / S.TRAIN_FILE).rows) + len(load_policy_data(r["out"] / S.POLICY_FILE).rows)
    assert kept <= summary["accepted"]  # both files load, whatever the twin managed


# --- the local teacher and R-SFT on the CPU twin ---------------------------------------------------------------
@pytest.mark.slow
def test_local_teacher_on_the_twin_is_cached_and_filtered(twin, tmp_path, capsys):
    items = make_items(2)[:3]
    t = S.LocalTeacher(twin, max_new_tokens=16, batch_size=4)
    first = S.synthesize(items, t, tmp_path / "c.jsonl", progress=False)
    assert first.requested == 3 and len(first.rejects) == 3  # a random model: nothing agrees with the gold
    assert {r.kind for r in first.rejects} <= {"unparsed", "disagrees", "no_steps", "inconsistent"}
    assert "the tokenizer" in capsys.readouterr().out
    second = S.synthesize(items, t, tmp_path / "c.jsonl", progress=False)
    assert second.requested == 0 and second.from_cache == 3


@pytest.mark.slow
def test_rsft_trains_on_both_synthesized_formats(tmp_path):
    from gr_colab.config import GRConfig
    from gr_colab.models import load_model
    from gr_colab.rsft import train_rsft, training_rows

    with S.StandInOpenAIServer() as server:
        result = S.synthesize(make_items(8), teacher(server), tmp_path / "c.jsonl", out_dir=tmp_path / "out",
                              retry=FAST, progress=False)
    loaded = None  # one twin with one LoRA adapter, trained on one format then the other
    for task_format, path in (("guardreasoner", result.paths["train"]), ("six_policy", result.paths["six_policy"])):
        config = GRConfig.load("cpu-tiny", run_dir=str(tmp_path / task_format), train_files=[str(path)],
                               task_format=task_format, rsft_max_steps=1, rsft_batch_size=2, save_steps=100,
                               logging_steps=1, max_seq_length=512)
        train, _, report = training_rows(config)
        assert train, report
        loaded = loaded or load_model(config)
        trained = train_rsft(config, loaded=loaded, rows=train)
        assert trained.global_step == 1 and all(l == l for l in trained.losses)  # finite, not NaN

