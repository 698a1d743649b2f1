"""The command line: score prints the paper's figures; errors are one clear line; run goes end to end."""
import json
import os
import subprocess
import sys

import pytest
from conftest import PRED_1B, ROOT

from gr_colab.runs import MARKER
from gr_colab.stages import RUN_ORDER


def gr(*args, cwd=ROOT, timeout=1800):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "gr_colab", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_score_prints_the_papers_1b_figures():
    files = [str(PRED_1B / n / "generated_predictions.jsonl") for n in ("SimpleSafetyTests", "AegisSafetyTest",
                                                                        "HarmBenchPrompt")]
    r = gr("score", *files, "--task", "prompt", "--mode", "official")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert [round(f["f1"], 2) for f in summary["files"]] == [98.99, 89.34, 96.31]
    assert "F1 98.99" in r.stdout and "parse rate" in r.stdout
    r = gr("score", str(PRED_1B / "XSTestResponseRefusal" / "generated_predictions.jsonl"), "--task", "refusal")
    assert json.loads(r.stdout.strip().splitlines()[-1])["files"][0]["f1"] == pytest.approx(91.05, abs=0.01)


def test_fields_prints_each_fields_documentation(capsys):
    from gr_colab import cli

    assert cli.main(["fields", "mine_temperature"]) == 0
    assert capsys.readouterr().out.strip() == "mine_temperature = 0.7: sampling temperature of mining [gt 0]"
    assert cli.main(["fields"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("preset = 'cpu-tiny': ")
    assert any(line.startswith("redteam_teacher = None") for line in lines)
    assert cli.main(["fields", "hsdpo_k"]) == 2  # an old name is not a field of its own


def test_no_disk_space_is_one_clear_line(monkeypatch, capsys):
    """A full disk (faked: this machine has room) stops the export with one line, not a traceback."""
    import shutil
    from collections import namedtuple

    from gr_colab import cli

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10**9, 10**9, 1000))
    monkeypatch.setattr("gr_colab.pipeline.run_stage", lambda *a, **k: __import__("gr_colab.export").export
                        .check_disk(".", 1e9, "the merged model"))
    assert cli.main(["export"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not enough disk for the merged model" in err[0]


@pytest.mark.parametrize("args, message", [
    (["run", "--preset", "t4-1b"], "needs a CUDA GPU"),
    (["run", "--preset", "t4-9b"], "is neither a preset"),
    (["rsft", "--set", "lora_r=-3"], "lora_r: must be a positive"),
    (["prepare", "--set", "train_files=[missing.json]"], "missing.json: no such file"),
    (["score", "nowhere.jsonl", "--task", "prompt"], "nowhere.jsonl"),
])
def test_user_errors_are_one_clear_line_and_a_nonzero_exit(args, message, tmp_path):
    r = gr(*args, "--run-dir", str(tmp_path)) if args[0] != "score" else gr(*args)
    assert r.returncode == 2
    assert message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_run_end_to_end_then_resumes_by_skipping(tmp_path):
    run_dir = tmp_path / "run"
    r = gr("run", "--run-dir", str(run_dir), "--set", "mine_limit=32")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    for stage in ("prepare", "rsft", "eval", "mine", "hsdpo", "export"):
        assert (run_dir / stage / MARKER).exists(), stage
    report = (run_dir / "report.md").read_text()
    for section in ("## R-SFT", "## Evaluation", "## Hard-sample mining", "## HS-DPO", "## Export"):
        assert section in report
    assert (run_dir / "report.html").exists() and (run_dir / "rsft" / "curves.png").exists()
    evals = json.loads((run_dir / "eval" / MARKER).read_text())["variants"]
    assert set(evals) >= {"base", "rsft"}
    assert evals["rsft"]["holdout"]["parse_rate"] > evals["base"]["holdout"]["parse_rate"]
    again = gr("run", "--run-dir", str(run_dir), "--set", "mine_limit=32")  # the same settings: nothing is stale
    assert again.returncode == 0 and again.stdout.count("already complete, skipped") == len(RUN_ORDER), again.stdout
    assert "running it again" not in again.stdout


class FakeHfApi:
    """A named fake of huggingface_hub.HfApi (the Hub is out of reach here): records the calls the push relies on."""
    calls: list = []

    def create_repo(self, repo_id, private, exist_ok, token):
        FakeHfApi.calls.append(("create_repo", repo_id, private))

    def upload_folder(self, repo_id, folder_path, path_in_repo, token, allow_patterns, ignore_patterns,
                      commit_message):
        FakeHfApi.calls.append(("upload_folder", repo_id, path_in_repo))

    def upload_file(self, path_or_fileobj, path_in_repo, repo_id, token, commit_message):
        FakeHfApi.calls.append(("upload_file", repo_id, path_in_repo))


def _exported_run(run):
    """A run folder as an export leaves it (an earlier kit's markers: trusted as they are), without a model."""
    from gr_colab.runs import mark_complete

    for folder, name in (("rsft/adapter", "adapter_model.safetensors"), ("export/merged", "model.safetensors"),
                         ("export/gguf", "guard-q4_k_m.gguf")):
        (run / folder).mkdir(parents=True)
        (run / folder / name).write_bytes(b"x" * 10)
    mark_complete(run / "rsft" / "adapter")
    mark_complete(run / "rsft", {"stage": "rsft"})
    (run / "export" / "README.md").write_text("---\nlicense: other\n---\n# card\n")
    mark_complete(run / "export", {"stage": "export", "merged": str(run / "export" / "merged")})


@pytest.mark.parametrize("flag", [["--set", "hub_push=true"], ["--push"]])
def test_hub_push_from_the_command_line_pushes(flag, tmp_path, monkeypatch, capsys):
    """The field hub_push is the one switch: --set hub_push=true (or --push, which sets it) uploads; without it the
    same step is a dry run that lists the files."""
    import huggingface_hub

    from gr_colab import cli

    run = tmp_path / "run"
    _exported_run(run)
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeHfApi)
    monkeypatch.setenv("HF_TOKEN", "hf_fake_token_for_tests")
    FakeHfApi.calls = []
    assert cli.main(["push", "--run-dir", str(run), "--set", "hub_repo=me/guard"]) == 0
    assert "dry run: would upload 3 files" in capsys.readouterr().out and FakeHfApi.calls == []
    assert cli.main(["push", "--run-dir", str(run), "--set", "hub_repo=me/guard", *flag]) == 0
    out = capsys.readouterr().out
    assert "hub_push changed from False to True" in out and "pushed 3 files" in out
    assert "hf_fake_token_for_tests" not in out
    assert FakeHfApi.calls == [("create_repo", "me/guard", True), ("upload_folder", "me/guard", "adapter"),
                               ("upload_folder", "me/guard", "merged"), ("upload_folder", "me/guard", "gguf"),
                               ("upload_file", "me/guard", "README.md")]
    assert json.loads((run / "push" / MARKER).read_text())["pushed"] is True
