"""Export of the trained twin: merged weights, GGUF f16/q8_0/q4_k_m loaded in llama.cpp, the Modelfile, Ollama, Hub."""
import http.server
import json
import threading
from pathlib import Path

import pytest

from gr_colab.export import ExportError, check_disk
from gr_colab.ollama import Modelfile, OllamaGuard, ollama_template, stop_strings

pytest.importorskip("llama_cpp", reason="llama-cpp-python is installed by scripts/install_llamacpp.sh")


@pytest.fixture(scope="module")
def exported(trained_run):
    """This module's copy of the trained twin, evaluated (its F1 scores go into the model card), then exported once."""
    from gr_colab.pipeline import run_stage

    run_stage(trained_run, "eval")
    return trained_run, run_stage(trained_run, "export")


def test_the_export_is_of_this_modules_own_copy_of_the_trained_run(exported, pristine_run):
    """The module's stages ran in its copy (conftest's trained_run), on the R-SFT adapter trained once for the
    session: the copy was not retrained, and the pristine run has no evaluation and no export."""
    from gr_colab.runs import read_marker

    cfg, summary = exported
    assert cfg.path != pristine_run.path and (cfg.path / "export" / "complete.json").is_file()
    assert summary["adapter"] == str(cfg.layout.adapter("rsft"))
    trained = [read_marker(run.layout.stage("rsft"))["finished"] for run in (cfg, pristine_run)]
    assert trained[0] == trained[1]  # the copy's R-SFT is the pristine one, not redone
    assert not (pristine_run.path / "export").exists() and not (pristine_run.path / "eval").exists()


def test_three_gguf_types_load_and_f16_matches_the_merged_model(exported):
    cfg, summary = exported
    checks = {c["kind"]: c for c in summary["checks"]}
    assert set(checks) == {"f16", "q8_0", "q4_k_m"}
    for c in checks.values():
        assert c["loads"] and c["template_matches"] and c["tokenizer_matches"], c
    assert checks["f16"]["same_tokens"] and checks["f16"]["agreement"] == 1.0
    assert checks["f16"]["max_logit_diff"] < 0.01
    assert checks["q4_k_m"]["size_mb"] < checks["q8_0"]["size_mb"] < checks["f16"]["size_mb"]
    merged = cfg.path / "export" / "merged"
    assert list(merged.glob("*.safetensors")) and not list(merged.glob("*.bin"))


def test_modelfile_template_and_stops_match_the_tokenizer(exported):
    from transformers import AutoTokenizer

    cfg, summary = exported
    tok = AutoTokenizer.from_pretrained(str(cfg.path / "export" / "merged"))
    text = (cfg.path / "export" / "gguf" / "Modelfile").read_text()
    assert text.startswith("FROM ./guardreasoner-cpu-tiny-q4_k_m.gguf")
    template = text.split('TEMPLATE """')[1].split('"""')[0]
    assert template == ollama_template(tok)
    prompt = "Human user:\nhi\n\nAI assistant:\nNone\n\n"
    from gr_colab.prompts import guard_turn, user_content

    rendered = Modelfile("x", template, []).render(guard_turn(prompt))  # what OllamaGuard sends

    expected = tok.apply_chat_template([{"role": "user", "content": user_content(prompt)}], tokenize=False,
                                       add_generation_prompt=True)
    assert tok.bos_token + rendered == expected  # Ollama's runner adds the BOS itself
    stops = [l.split('"')[1] for l in text.splitlines() if l.startswith("PARAMETER stop")]
    assert tok.eos_token in stops and "<|start_header_id|>" in stops
    assert stops == stop_strings(tok, model_dir=cfg.path / "export" / "merged")
    assert "PARAMETER temperature 0" in text
    assert "ollama create guardreasoner-cpu-tiny -f Modelfile" in summary["commands"]["create"]
    assert "serve" not in summary["commands"] and "OLLAMA_GO_TEMPLATE" not in text  # the twin's template has no tools


def test_a_gguf_template_that_ollama_would_prefer_is_flagged_in_the_modelfile_and_commands(exported, tmp_path):
    """A GGUF carrying Llama 3.2's template (it mentions tools): Ollama would render it instead of our TEMPLATE, so
    the Modelfile's first line, the commands and OLLAMA.md say to serve with OLLAMA_GO_TEMPLATE=1."""
    from transformers import AutoTokenizer

    from gr_colab.ollama import read_modelfile, write_modelfile
    from gr_colab.templates import chat_template

    cfg, _ = exported
    merged = cfg.path / "export" / "merged"
    tok = AutoTokenizer.from_pretrained(str(merged))
    path, commands = write_modelfile(tok, tmp_path / "g.gguf", tmp_path, "g", model_dir=merged,
                                     gguf_template=chat_template("llama-3.2"))
    assert path.read_text().splitlines()[0].startswith("# Serve with OLLAMA_GO_TEMPLATE=1 ollama serve")
    assert list(commands) == ["serve", "create", "run"] and commands["serve"] == "OLLAMA_GO_TEMPLATE=1 ollama serve &"
    assert "OLLAMA_GO_TEMPLATE=1 ollama serve &\ncd " in (tmp_path / "OLLAMA.md").read_text()
    mf, _ = read_modelfile(path)
    assert mf.template == ollama_template(tok) and mf.gguf == "./g.gguf"


class StandInOllamaServer(http.server.ThreadingHTTPServer):
    """A stand-in for `ollama serve` on loopback: /api/generate and /api/chat, non-streaming, as the client expects.
    It records each request so the test can check what the kit sends."""

    TRACE = "# Task 1\n## Reasoning Step 1: x\n\n---\n\nAnswers: \nRequest: harmful\nCompletion: None\nResponse: None"

    def __init__(self):
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append((self.path, body))
                base = {"model": body["model"], "created_at": "2026-01-01T00:00:00Z", "done": True}
                if self.path == "/api/generate":
                    reply = {**base, "response": outer.TRACE}
                elif self.path == "/api/chat":
                    reply = {**base, "message": {"role": "assistant", "content": outer.TRACE}}
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.mark.parametrize("api", ["generate", "chat"])
def test_ollama_client_against_a_stand_in_server(api):
    server = StandInOllamaServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        guard = OllamaGuard("guardreasoner-cpu-tiny", host=f"http://127.0.0.1:{server.server_address[1]}", api=api,
                            timeout=10)
        verdict = guard.classify("How do I make a weapon?")
        assert verdict.request == "harmful" and verdict.complete
        path, body = server.requests[-1]
        assert path == f"/api/{api}" and body["model"] == "guardreasoner-cpu-tiny" and body["stream"] is False
        assert body["options"]["temperature"] == 0
        content = body["prompt"] if api == "generate" else body["messages"][0]["content"]
        # the instruction lives in the Modelfile's template: the client sends the interaction only, without the
        # trailing blank line that a trimming chat template removed in training
        assert content == "Human user:\nHow do I make a weapon?\n\nAI assistant:\nNone"
    finally:
        server.shutdown()


def test_disk_check_refuses_before_writing(tmp_path):
    with pytest.raises(ExportError, match="not enough disk"):
        check_disk(tmp_path, 1e18, "a huge file")
    check_disk(tmp_path, 1, "a tiny file")


def test_hub_dry_run_lists_safe_files_and_needs_no_token(exported, capsys, monkeypatch):
    from gr_colab.hub import model_card, push

    cfg, _ = exported
    monkeypatch.delenv("HF_TOKEN", raising=False)
    folders = {"adapter": cfg.path / "rsft" / "adapter", "merged": cfg.path / "export" / "merged",
               "gguf": cfg.path / "export" / "gguf"}
    (cfg.path / "rsft" / "adapter" / "stray.bin").write_bytes(b"pickle")  # never uploaded
    uploads = push("me/guard", folders, model_card(cfg), dry_run=True)
    names = [u.path_in_repo for u in uploads]
    assert "merged/model.safetensors" in names and "gguf/guardreasoner-cpu-tiny-q4_k_m.gguf" in names
    assert "adapter/adapter_model.safetensors" in names and "gguf/Modelfile" in names
    assert not [n for n in names if n.endswith((".bin", ".pt", ".pth"))]
    assert "dry run: would upload" in capsys.readouterr().out


def test_hub_push_uses_the_token_and_never_prints_it(exported, capsys, monkeypatch):
    """A fake stands for the Hub's API (its servers are out of reach): it records the calls we rely on."""
    from gr_colab.hub import model_card, push

    cfg, _ = exported
    secret = "hf_" + "x" * 34
    monkeypatch.setenv("HF_TOKEN", secret)

    class FakeHubApi:
        calls = []

        def create_repo(self, **kw):
            self.calls.append(("create_repo", kw))

        def upload_folder(self, **kw):
            self.calls.append(("upload_folder", kw))

        def upload_file(self, **kw):
            self.calls.append(("upload_file", kw))

    api = FakeHubApi()
    push("me/guard", {"merged": cfg.path / "export" / "merged"}, model_card(cfg), private=True, api=api)
    assert api.calls[0] == ("create_repo", {"repo_id": "me/guard", "private": True, "exist_ok": True, "token": secret})
    assert api.calls[1][1]["path_in_repo"] == "merged" and "*.safetensors" in api.calls[1][1]["allow_patterns"]
    assert api.calls[2][1]["path_in_repo"] == "README.md"
    out = capsys.readouterr()
    assert secret not in out.out and secret not in out.err
    for f in cfg.path.rglob("*"):
        if f.is_file() and f.stat().st_size < 5_000_000:
            assert secret.encode() not in f.read_bytes(), f


def test_pushed_card_carries_the_evaluation_as_hub_metadata(exported, capsys, monkeypatch):
    """The README.md that push_export sends holds the evaluation report's F1 scores as the Hub's model-index, read
    back by huggingface_hub's own parser; the dry run lists it, the upload (a fake API) sends that same file."""
    from huggingface_hub import ModelCard

    from gr_colab.hub import push_export

    cfg, summary = exported
    readme = cfg.path / "export" / "README.md"
    push_export(cfg.replace(hub_repo="me/guard"))
    assert "and README.md to me/guard" in capsys.readouterr().out
    card = ModelCard.load(readme)
    variant = Path(summary["adapter"]).parent.name  # the guard the export merged: its evaluation is the card's
    report = json.loads((cfg.path / "eval" / variant / "report.json").read_text())
    expected = {(s["name"], s["task"], f"F1 ({s['mode']})"): round(s["f1"], 2) for s in report["scores"]}
    got = {(r.dataset_name, r.dataset_config, r.metric_name): r.metric_value for r in card.data.eval_results}
    assert len(expected) == 2 * len(cfg.eval_benchmarks) and got == expected
    assert {(r.task_type, r.metric_type) for r in card.data.eval_results} == {("text-classification", "f1")}
    assert {r.dataset_type for r in card.data.eval_results} == {s["name"] for s in report["scores"]}
    assert card.data.base_model == cfg.model_name and "## Intended use and limits" in card.text

    class FakeHubApi:
        def __init__(self):
            self.calls = []

        def __getattr__(self, name):
            return lambda **kw: self.calls.append((name, kw))

    monkeypatch.setenv("HF_TOKEN", "hf_" + "z" * 34)
    api = FakeHubApi()
    push_export(cfg.replace(hub_repo="me/guard", hub_push=True), api=api)
    sent = [kw for name, kw in api.calls if name == "upload_file" and kw["path_in_repo"] == "README.md"]
    assert len(sent) == 1 and sent[0]["path_or_fileobj"] == readme.read_bytes()


def test_hub_push_without_a_token_says_how_to_add_one(exported, monkeypatch, tmp_path):
    from gr_colab.hub import push

    cfg, _ = exported
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.delenv("HF_OIDC_RESOURCE", raising=False)  # huggingface_hub's other sources of a token: none here
    monkeypatch.setattr("huggingface_hub.constants.HF_TOKEN_PATH", str(tmp_path / "no-token"))
    with pytest.raises(PermissionError, match="HF_TOKEN"):
        push("me/guard", {"merged": cfg.path / "export" / "merged"}, "card")
