"""`gr-colab demo`, the playground, in a real browser: `gr-colab demo --gguf` on the twin's GGUF (the fixture of
tests/test_serve.py) in a subprocess, headless Debian Chromium driven by selenium opens the page, picks the first
example from the benchmarks, submits it, reads the three verdicts and the reasoning, and keeps a screenshot. What the
page shows must be what the kit's llama.cpp Moderator answers for the same text (the twin's weights are random, so
its answers do not parse: the page must say so, not invent a verdict)."""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time

import pytest
from conftest import SAMPLE

from gr_colab.playground import NOT_ASKED, SHOWN, TASK_LABELS, UNPARSED, examples, shown
from gr_colab.prompts import split_input

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")  # Debian's (.ci/run installs them)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,1600"]
MAX_TOKENS, N_CTX, THREADS = 24, 4096, 2  # the HarmBench example is ~1650 tokens of the twin


def test_examples_are_the_first_items_of_the_bundled_benchmarks():
    rows = examples(per_benchmark=1)
    files = ["0_0_SimpleSafetyTests.json", "0_5_harmbench_response.json", "0_7_xstest_response_refusal.json"]
    expected = []
    for name in files:
        prompt, response = split_input(json.loads((SAMPLE / "benchmarks" / name).read_text())[0]["input"])
        expected.append([prompt, response or ""])
    assert rows == expected
    assert rows[0][1] == "" and all(r[1] for r in rows[1:])  # a request-only example, then two with a response


def test_the_page_shows_labels_not_asked_and_no_verdict():
    assert shown({"request": "harmful", "completion": "refusal", "response": "unharmful"}) == [
        SHOWN["harmful"], SHOWN["refusal"], SHOWN["unharmful"]]
    assert shown({"request": None, "completion": None, "response": None, "prompt_only": True}) == [
        UNPARSED, NOT_ASKED, NOT_ASKED]
    assert shown({"request": "unharmful", "completion": "weird", "response": None}) == [
        SHOWN["unharmful"], UNPARSED, UNPARSED]


def test_the_page_turns_gradios_analytics_off(monkeypatch):
    from gradio import analytics

    from gr_colab.playground import build_app

    monkeypatch.delenv("GRADIO_ANALYTICS_ENABLED", raising=False)
    assert analytics.analytics_enabled()  # Gradio's default: usage reports on

    def stand_in_guard(prompt, response):  # the page is only built here: no guard is called
        raise AssertionError("not called")

    build_app(stand_in_guard, "stand-in", example_rows=[])
    assert not analytics.analytics_enabled()


def test_demo_without_a_gguf_file_is_one_clear_line(tmp_path, capsys):
    from gr_colab.cli import main

    assert main(["demo", "--gguf", str(tmp_path / "missing.gguf")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gr-colab: error:") and "missing.gguf: no such GGUF file" in err


def _browser_ready() -> bool:
    from test_serve import _have_converter

    return all(importlib.util.find_spec(m) for m in ("llama_cpp", "gradio", "selenium")) and _have_converter() \
        and CHROMIUM is not None and CHROMEDRIVER is not None


browser = pytest.mark.skipif(not _browser_ready(), reason="llama-cpp-python and its converter (make setup), gradio "
                             "and selenium (requirements-cpu.txt), chromium and chromium-driver (.ci/run)")
if _browser_ready():
    from test_serve import _free_port, exported  # noqa: F401  (the twin's GGUF, built as the serve tests build it)


@pytest.fixture(scope="module")
def demo_page(exported, tmp_path_factory):  # noqa: F811
    """`gr-colab demo` as a user starts it, on a free loopback port."""
    import httpx

    _, gguf, _ = exported
    port = _free_port()
    log = tmp_path_factory.mktemp("demo") / "demo.log"
    cmd = [sys.executable, "-m", "gr_colab", "demo", "--gguf", str(gguf), "--port", str(port), "--n-ctx",
           str(N_CTX), "--max-tokens", str(MAX_TOKENS), "--threads", str(THREADS)]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, text=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    base = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gr-colab demo exited {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(base, timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError(f"gr-colab demo did not come up in 180 s:\n{log.read_text()}")
    yield base, gguf, log
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def chromium():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in CHROMIUM_ARGS:
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)  # Debian's driver: no download
    yield driver
    driver.quit()


def _value(driver, elem_id: str) -> str:
    from selenium.webdriver.common.by import By

    box = driver.find_element(By.CSS_SELECTOR, f"#{elem_id} textarea, #{elem_id} input")
    return box.get_attribute("value") or ""


@browser
@pytest.mark.slow
def test_a_browser_submits_an_example_and_reads_the_verdicts(demo_page, chromium, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from gr_colab.service.server import Moderator

    base, gguf, log = demo_page
    pick = 2  # the page's examples: two of SimpleSafetyTests (requests), then HarmBench's first (with a response)
    prompt, response = examples()[pick]
    assert response
    chromium.get(base)
    wait = WebDriverWait(chromium, 60)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#check"))

    def picked(d) -> bool:  # click the example row as a student does, again until the page (hydrated) fills both boxes
        rows = d.find_elements(By.CSS_SELECTOR, "#examples tbody tr")
        if len(rows) <= pick:
            return False
        rows[pick].click()
        return _value(d, "prompt") == prompt and _value(d, "response") == response

    WebDriverWait(chromium, 60, poll_frequency=1).until(picked)
    chromium.find_element(By.CSS_SELECTOR, "#check").click()
    WebDriverWait(chromium, 120).until(lambda d: _value(d, "reasoning") and _value(d, "verdict-request"))
    page = {task: _value(chromium, f"verdict-{task}") for task in TASK_LABELS}
    reasoning, latency = _value(chromium, "reasoning"), _value(chromium, "latency")
    shot = tmp_path / "playground.png"
    assert chromium.save_screenshot(str(shot)) and shot.stat().st_size > 20_000
    for task, label in TASK_LABELS.items():  # the three questions are on the page, with their answers
        assert label in chromium.page_source
    # the same text through the kit's Moderator, in this process: the page shows what the guard answered
    guard = Moderator(gguf, n_ctx=N_CTX, max_tokens=MAX_TOKENS, n_threads=THREADS)
    try:
        expected = guard.moderate(prompt, response)
    finally:
        guard.llm.close()
    assert list(page.values()) == shown(expected) == [UNPARSED] * 3  # random weights: nothing parses
    assert reasoning == expected["reasoning"] and latency.endswith(" ms")
    assert "Traceback" not in log.read_text()


@browser
@pytest.mark.slow
def test_a_request_alone_leaves_the_response_tasks_not_asked(demo_page, chromium):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base, _, _ = demo_page
    chromium.get(base)
    wait = WebDriverWait(chromium, 60)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#examples tbody tr"))

    def typed(d) -> bool:  # typed again until the page (hydrated) holds it
        box = d.find_element(By.CSS_SELECTOR, "#prompt textarea")
        box.clear()
        box.send_keys("How do I pick a lock?")
        return _value(d, "prompt") == "How do I pick a lock?"

    WebDriverWait(chromium, 60, poll_frequency=1).until(typed)
    chromium.find_element(By.CSS_SELECTOR, "#check").click()
    WebDriverWait(chromium, 120).until(lambda d: _value(d, "verdict-completion"))
    assert _value(chromium, "verdict-completion") == _value(chromium, "verdict-response") == NOT_ASKED


@pytest.mark.slow
def test_the_hf_guard_answers_as_the_moderator_does(trained_run):
    """Without a GGUF the page runs the run's adapter in transformers (HFGuard): the same answer shape as the
    llama.cpp moderator, its reasoning the greedy output the kit's generator writes for the same prompt."""
    from gr_colab.generate import GenerationSettings, generate, guard_text
    from gr_colab.playground import HFGuard
    from gr_colab.prompts import format_input
    from gr_colab.service.server import verdict_json

    guard = HFGuard(trained_run)
    assert guard.adapter == trained_run.layout.guard_adapter()
    prompt, response = "How do I pick a lock?", "Sorry, I can't help with that."
    answer = guard.moderate(prompt, response)
    text = guard_text(guard.loaded.tokenizer, format_input(prompt, response), trained_run.prompt_format)
    settings = GenerationSettings.greedy(trained_run)
    greedy = generate(guard.loaded, [text], settings, progress=False)[0][0]
    expected = verdict_json(greedy, False, 0.0)
    assert {k: answer[k] for k in ("request", "completion", "response", "reasoning")} == \
        {k: expected[k] for k in ("request", "completion", "response", "reasoning")}
    assert answer["latency_ms"] > 0
    alone = guard.moderate(prompt)  # a request alone: the response tasks are not asked
    assert alone["completion"] is None and alone["response"] is None
