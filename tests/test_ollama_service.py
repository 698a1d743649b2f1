"""Notebook 07's Ollama cell: the Colab branch (install, serve, wait, create) under a stand-in ``google.colab``, the
bounded wait, and the llama.cpp stand-in answering OllamaGuard from the twin's GGUF beside the HF model."""
import http.server
import socket
import sys
import threading
import time
import types

import pytest

from gr_colab.config import GRConfig
from gr_colab.ollama import Modelfile
from gr_colab.runtime import in_colab
from gr_colab.service import ollama_server
from gr_colab.service.ollama_server import INSTALL_COMMAND, OllamaServiceError, modelfile_spec, start, wait_until_ready


class _Hello(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "17")
        self.end_headers()
        self.wfile.write(b"Ollama is running")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve_after(port: int, delay: float):
    """A loopback HTTP server that starts listening only after ``delay`` seconds, as `ollama serve` does."""
    holder = {}

    def run():
        time.sleep(delay)
        holder["server"] = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Hello)
        holder["server"].serve_forever()

    threading.Thread(target=run, daemon=True).start()
    return holder


def test_wait_until_ready_polls_until_the_server_answers():
    port = _free_port()
    holder = _serve_after(port, 0.8)
    try:
        waited = wait_until_ready(f"http://127.0.0.1:{port}", timeout=20, interval=0.1)
        assert 0.5 < waited < 20
    finally:
        holder["server"].shutdown()


def test_wait_until_ready_gives_up_with_the_logs_tail(tmp_path):
    log = tmp_path / "ollama.log"
    log.write_text("starting\nError: listen tcp 127.0.0.1:11434: bind: address already in use\n")
    with pytest.raises(OllamaServiceError, match="after 1 s(.|\n)*address already in use"):
        wait_until_ready(f"http://127.0.0.1:{_free_port()}", timeout=1, interval=0.1, log=log)


class FakeProcess:
    """Stands for the `ollama serve` child process (no Ollama binary here)."""

    def __init__(self, returncode=None):
        self.returncode = returncode
        self.terminated = False

    def poll(self):
        return self.returncode

    def terminate(self):
        self.terminated, self.returncode = True, -15

    def wait(self, timeout=None):
        return self.returncode

    def kill(self):
        self.returncode = -9


class FakeSubprocess:
    """A fake for what cannot run here (curl to ollama.com, apt-get, the ollama binary): it records every command the
    kit runs, with the arguments we rely on, and answers like a successful run."""

    def __init__(self, fail_on=None, process=None, on_popen=None):
        self.commands, self.fail_on, self.process = [], fail_on, process or FakeProcess()
        self.on_popen = on_popen  # what the real `ollama serve` would do: start listening

    def run(self, cmd, **kw):
        self.commands.append(("run", cmd, kw))
        failed = self.fail_on is not None and self.fail_on in str(cmd)
        return types.SimpleNamespace(returncode=1 if failed else 0, stdout="", stderr="curl: (6) Could not resolve"
                                     if failed else "")

    def popen(self, cmd, **kw):
        self.commands.append(("popen", cmd, kw))
        kw["stdout"].write(b"time=... level=INFO msg=\"Listening on 127.0.0.1:11434\"\n")
        if self.on_popen:
            self.on_popen()
        return self.process


@pytest.fixture
def fake_colab(monkeypatch):
    """A stand-in `google.colab` module, so the kit takes its Colab branch."""
    google = types.ModuleType("google")
    colab = types.ModuleType("google.colab")
    google.colab = colab
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setattr(ollama_server.shutil, "which", lambda name: None)  # no ollama, no zstd yet
    return colab


def _run_with_modelfile(tmp_path) -> GRConfig:
    cfg = GRConfig.load("cpu-tiny", run_dir=str(tmp_path / "run"))
    gguf = cfg.path / "export" / "gguf"
    gguf.mkdir(parents=True)
    (gguf / "Modelfile").write_text(Modelfile("./g.gguf", "<u>{{ .Prompt }}</u>{{ .Response }}</a>", ["</a>"]).text())
    return cfg


def test_colab_branch_installs_serves_waits_and_creates(tmp_path, fake_colab):
    assert in_colab()
    cfg = _run_with_modelfile(tmp_path)
    port = _free_port()
    holder = {}
    fake = FakeSubprocess(on_popen=lambda: holder.setdefault("serve", _serve_after(port, 0.5)))  # 0.5 s later
    try:
        served = start(cfg, host=f"http://127.0.0.1:{port}", run=fake.run, popen=fake.popen)
    finally:
        holder["serve"]["server"].shutdown()
    kinds = [(k, c) for k, c, _ in fake.commands]
    assert kinds[0] == ("run", ollama_server.PREREQ_COMMAND) and "zstd" in kinds[0][1]
    assert kinds[1] == ("run", INSTALL_COMMAND) == ("run", "curl -fsSL https://ollama.com/install.sh | sh")
    assert fake.commands[1][2]["shell"] is True
    assert kinds[2] == ("popen", ["ollama", "serve"])
    popen_kw = fake.commands[2][2]
    assert popen_kw["env"]["OLLAMA_HOST"] == f"127.0.0.1:{port}" and popen_kw["start_new_session"]
    assert popen_kw["env"]["OLLAMA_GO_TEMPLATE"] == "1"  # our TEMPLATE wins over a GGUF template with tools
    assert kinds[3] == ("run", ["ollama", "create", "guardreasoner-cpu-tiny", "-f", "Modelfile"])
    assert fake.commands[3][2]["cwd"] == str(cfg.path / "export" / "gguf")  # FROM ./g.gguf is relative to it
    log = cfg.path / "export" / "ollama.log"
    assert "Listening on 127.0.0.1:11434" in log.read_text()  # the server's output went to the run folder's log
    assert served.name == "guardreasoner-cpu-tiny" and str(port) in served.host and "Ollama serving" in str(served)
    served.stop()
    assert fake.process.terminated


def test_colab_branch_uses_a_server_that_already_answers(tmp_path, fake_colab):
    cfg = _run_with_modelfile(tmp_path)
    port = _free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Hello)  # left running by an earlier run
    threading.Thread(target=server.serve_forever, daemon=True).start()
    fake = FakeSubprocess()
    try:
        served = start(cfg, host=f"http://127.0.0.1:{port}", run=fake.run, popen=fake.popen)
    finally:
        server.shutdown()
    assert [c[0] for c in fake.commands] == ["run", "run", "run"]  # install, then `ollama create`: no second serve
    assert fake.commands[-1][1][:2] == ["ollama", "create"]
    served.stop()  # nothing of ours to stop: the earlier server is not killed by a later cell


def test_colab_branch_skips_the_install_when_ollama_is_there(tmp_path, fake_colab, monkeypatch):
    monkeypatch.setattr(ollama_server.shutil, "which", lambda name: f"/usr/bin/{name}")
    fake = FakeSubprocess()
    ollama_server.OllamaServer(tmp_path / "log", run=fake.run, popen=fake.popen).install()
    assert fake.commands == []


def test_colab_branch_failures_say_what_failed(tmp_path, fake_colab):
    cfg = _run_with_modelfile(tmp_path)
    fake = FakeSubprocess(fail_on="ollama.com")
    with pytest.raises(OllamaServiceError, match="install.sh \\| sh` failed(.|\n)*Could not resolve"):
        start(cfg, run=fake.run, popen=fake.popen)
    dead = FakeSubprocess(process=FakeProcess(returncode=1))  # `ollama serve` dies at once
    with pytest.raises(OllamaServiceError, match="exited with code 1(.|\n)*Listening on"):
        start(cfg, host=f"http://127.0.0.1:{_free_port()}", run=dead.run, popen=dead.popen, timeout=30)


def test_a_missing_export_names_the_cell_to_run(tmp_path):
    cfg = GRConfig.load("cpu-tiny", run_dir=str(tmp_path / "empty"))
    with pytest.raises(OllamaServiceError, match="no Modelfile; run the export stage"):
        start(cfg, colab=False)


def test_modelfile_spec_round_trips_what_the_export_writes(tmp_path):
    mf = Modelfile("./m.gguf", "<s>{{ .Prompt }}<e>{{ .Response }}<e>", ["<e>", "<|eot_id|>"], num_ctx=2048,
                   num_predict=300)
    (tmp_path / "Modelfile").write_text(mf.text())
    spec = modelfile_spec(tmp_path / "Modelfile")
    assert spec.modelfile == mf and spec.temperature == 0.0
    assert spec.gguf == (tmp_path / "m.gguf").resolve()
    (tmp_path / "Modelfile").write_text("FROM x.gguf\n")
    with pytest.raises(OllamaServiceError, match="TEMPLATE"):
        modelfile_spec(tmp_path / "Modelfile")


# --- which template Ollama renders (server/images.go:793, server/routes.go:2357 at v0.33.0-rc2) ----------------
GO = "<u>{{ .Prompt }}</u>{{ .Response }}</a>"  # a TEMPLATE as the export writes it: no .Tools, .Suffix, .Thinking


def test_ollama_renders_a_llama_gguf_template_instead_of_ours_unless_told_not_to():
    from gr_colab.ollama import chat_template_capabilities, renders_gguf_template
    from gr_colab.templates import chat_template

    llama, gemma = chat_template("llama-3.2"), chat_template("gemma-3")
    assert chat_template_capabilities(llama) == ["tools"] and chat_template_capabilities(gemma) == []
    assert renders_gguf_template(llama, GO, None)  # more capabilities than our TEMPLATE: Ollama prefers it
    assert not renders_gguf_template(gemma, GO, None) and not renders_gguf_template(None, GO, None)
    assert not renders_gguf_template(llama, GO, "1") and not renders_gguf_template(llama, GO, "yes")  # any text: on
    assert renders_gguf_template(gemma, GO, "false")  # Go templates off: the GGUF's template whenever it has one
    think = "{{ messages }}<think>\n</think>"
    assert chat_template_capabilities(think) == ["thinking"] and renders_gguf_template(think, GO, None)
    assert not renders_gguf_template(think, "{{ if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}" + GO, None)


def test_a_modelfile_whose_gguf_template_would_win_says_how_to_serve_it(tmp_path):
    from gr_colab.ollama import read_modelfile

    mf = Modelfile("./m.gguf", GO, ["</a>"], needs_go_template=True)
    (tmp_path / "Modelfile").write_text(mf.text())
    assert mf.text().startswith("# Serve with OLLAMA_GO_TEMPLATE=1 ollama serve")
    back, _ = read_modelfile(tmp_path / "Modelfile")
    assert (back.gguf, back.template, back.stops) == ("./m.gguf", GO, ["</a>"])
    assert "OLLAMA_GO_TEMPLATE" not in Modelfile("./m.gguf", GO, ["</a>"]).text()


# --- the llama.cpp stand-in on the twin's GGUF -----------------------------------------------------------------
@pytest.fixture(scope="module")
def exported(trained_run):
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is installed by scripts/install_llamacpp.sh")
    from gr_colab.pipeline import run_stage

    run_stage(trained_run, "export")
    return trained_run


@pytest.fixture(scope="module")
def hf_model(exported):
    from gr_colab.models import load_model
    from gr_colab.pipeline import read_summary

    return load_model(exported, adapter=read_summary(exported, "export")["adapter"], trainable=False)


@pytest.mark.slow
def test_stand_in_answers_ollama_guard_like_the_hf_model_on_the_f16_gguf(exported, hf_model, tmp_path):
    """The f16 GGUF is the merged model in llama.cpp: through the Modelfile's template, BOS and stops, Ollama's API
    must give the HF model's very outputs, on both APIs."""
    from gr_colab.service.ollama_server import LlamaCppOllamaStandIn, Served, side_by_side

    gguf = exported.path / "export" / "gguf"
    spec = modelfile_spec(gguf / "Modelfile")
    f16 = next(gguf.glob("*-f16.gguf"))
    (tmp_path / "Modelfile").write_text(Modelfile(str(f16), spec.modelfile.template, spec.modelfile.stops,
                                                  spec.modelfile.num_ctx, spec.modelfile.num_predict).text())
    server = LlamaCppOllamaStandIn(tmp_path / "Modelfile", "guardreasoner-cpu-tiny").start()
    try:
        served = Served("guardreasoner-cpu-tiny", server.host, server, spec.modelfile.num_predict)
        items = ollama_server.DEMO_ITEMS[:3]
        table = side_by_side(exported, served, items, loaded=hf_model)
        assert list(table.columns) == ["prompt", "response", "HF model", "llama.cpp stand-in for Ollama", "agree"]
        assert len(table) == 3 and table["agree"].all()
        for hf_text, ollama_text in table.attrs["outputs"]:
            assert ollama_text == hf_text and ollama_text  # same tokens, stopped at the same end of turn
        path, body = server.requests[-1]
        assert path == "/api/generate" and body["prompt"].startswith("Human user:\n") and body["stream"] is False
        chat = served.guard(api="chat").ask(*items[0])
        assert chat == table.attrs["outputs"][0][1]
    finally:
        server.stop()


@pytest.mark.slow
def test_notebook_cell_on_the_cpu_runs_the_stand_in_on_the_exported_modelfile(exported, hf_model):
    """What notebook 07 runs off Colab: start() picks the stand-in, on the q4_k_m GGUF the Modelfile names."""
    assert not in_colab()
    served = start(exported)
    try:
        assert "llama.cpp stand-in" in str(served) and served.server.spec.gguf.name.endswith("-q4_k_m.gguf")
        table = ollama_server.side_by_side(exported, served, ollama_server.DEMO_ITEMS[:2], loaded=hf_model)
        assert len(table) == 2 and set(table["agree"]) <= {True, False}
        # the stand-in sent llama.cpp the Modelfile's rendering of what OllamaGuard posted
        _, body = served.server.requests[-1]
        assert body["model"] == "guardreasoner-cpu-tiny" and body["options"]["temperature"] == 0
        assert body["options"]["num_predict"] == served.server.spec.modelfile.num_predict == exported.max_new_tokens
        for hf_text, ollama_text in table.attrs["outputs"]:
            assert ollama_text and "{{" not in ollama_text  # an answer, no leaked template text
        import ollama

        with pytest.raises(ollama.ResponseError, match="not found"):
            served.guard().client.generate(model="another-model", prompt="x", stream=False)
    finally:
        served.stop()


def test_push_export_follows_the_config(tmp_path, capsys, monkeypatch):
    """hub_push False: a dry run that lists; True: the upload, through a fake for the Hub's API (out of reach)."""
    from gr_colab.hub import push_export
    from gr_colab.runs import mark_complete

    cfg = GRConfig.load("cpu-tiny", run_dir=str(tmp_path / "run"))
    with pytest.raises(FileNotFoundError, match="run the export stage first"):
        push_export(cfg)
    for sub in ("rsft/adapter", "export/merged", "export/gguf"):
        (cfg.path / sub).mkdir(parents=True)
    (cfg.path / "rsft/adapter/adapter_model.safetensors").write_bytes(b"x")
    (cfg.path / "rsft/adapter/optimizer.pt").write_bytes(b"pickle")  # never uploaded
    mark_complete(cfg.path / "rsft/adapter")  # a finished adapter; its marker is never uploaded either
    (cfg.path / "export/gguf/m-q4_k_m.gguf").write_bytes(b"x")
    (cfg.path / "export/README.md").write_text("card")
    assert len(push_export(cfg)) == 2  # no hub_repo: a dry run under a placeholder, saying how to push
    out = capsys.readouterr().out
    assert "hub_repo is not set" in out and "'hub_push': True} to OVERRIDES" in out
    assert "your-name/guardreasoner-cpu-tiny" in out
    with pytest.raises(ValueError, match="hub_repo is not set"):
        push_export(cfg.replace(hub_push=True))
    dry = cfg.replace(hub_repo="me/guard")
    (cfg.path / "export/merged").rmdir()
    assert len(push_export(dry)) == 2
    assert "no merged folder at" in capsys.readouterr().out  # said, not skipped silently
    scratch = tmp_path / "scratch" / "merged"  # where the export merges on Colab: off Drive
    scratch.mkdir(parents=True)
    (scratch / "model.safetensors").write_bytes(b"x")
    assert [u.path_in_repo for u in push_export(dry, merged=scratch)] == [
        "adapter/adapter_model.safetensors", "merged/model.safetensors", "gguf/m-q4_k_m.gguf"]
    assert "dry run: would upload 3 files" in capsys.readouterr().out

    class FakeHubApi:
        def __init__(self):
            self.calls = []

        def __getattr__(self, name):
            return lambda **kw: self.calls.append((name, kw))

    monkeypatch.setenv("HF_TOKEN", "hf_" + "y" * 34)
    api = FakeHubApi()
    push_export(dry.replace(hub_push=True), merged=scratch, api=api)
    assert [c[0] for c in api.calls] == ["create_repo", "upload_folder", "upload_folder", "upload_folder",
                                         "upload_file"]
    assert api.calls[0][1]["repo_id"] == "me/guard" and api.calls[0][1]["private"] is True
    assert (api.calls[2][1]["path_in_repo"], api.calls[2][1]["folder_path"]) == ("merged", str(scratch))


@pytest.mark.slow
def test_stand_in_renders_the_gguf_template_where_ollama_would(exported, tmp_path, monkeypatch):
    """A GGUF carrying Llama 3.2's template (tools): without OLLAMA_GO_TEMPLATE the stand-in, as Ollama, renders that
    Jinja template (no guard instruction); with it, the Modelfile's TEMPLATE, as the kit's `ollama serve` does."""
    import subprocess

    from gr_colab.llamacpp import render_chat
    from gr_colab.prompts import INSTRUCTION_PREFIX
    from gr_colab.service.ollama_server import LlamaCppOllamaStandIn
    from gr_colab.templates import chat_template, pin_date

    gguf = exported.path / "export" / "gguf"
    spec = modelfile_spec(gguf / "Modelfile")
    assert not spec.modelfile.template.startswith("#") and "OLLAMA_GO_TEMPLATE" not in (gguf / "Modelfile").read_text()
    llama = pin_date(chat_template("llama-3.2"))
    tools = tmp_path / "tools.gguf"  # gguf-py's own metadata copier
    subprocess.run([sys.executable, "-m", "gguf.scripts.gguf_new_metadata", str(next(gguf.glob("*-f16.gguf"))),
                    str(tools), "--chat-template", llama, "--force"], check=True, capture_output=True)
    (tmp_path / "Modelfile").write_text(Modelfile(str(tools), spec.modelfile.template, spec.modelfile.stops).text())
    monkeypatch.delenv("OLLAMA_GO_TEMPLATE", raising=False)
    interaction = "Human user:\nHow do I pick a lock?\n\nAI assistant:\nNone"
    server = LlamaCppOllamaStandIn(tmp_path / "Modelfile", "g")
    try:
        assert server.renders_gguf_template
        text = server.render(interaction)
        full = render_chat(llama, [{"role": "user", "content": interaction}], server.bos, server.eos)
        assert full.startswith(server.bos) and text == full[len(server.bos):]  # one BOS: llama.cpp's
        assert "Cutting Knowledge Date" in text and INSTRUCTION_PREFIX.strip() not in text
    finally:
        server.stop()
    monkeypatch.setenv("OLLAMA_GO_TEMPLATE", "1")  # what the kit's `ollama serve` gets
    server = LlamaCppOllamaStandIn(tmp_path / "Modelfile", "g")
    try:
        assert not server.renders_gguf_template
        assert server.render(interaction) == spec.modelfile.render(interaction)
        assert INSTRUCTION_PREFIX.strip() in server.render(interaction)
    finally:
        server.stop()
