"""The Colab install and the CPU test environment pin the same library versions; the repo stands alone."""
import re
import subprocess

from conftest import ROOT

SHARED = ["transformers", "trl", "peft", "datasets", "accelerate", "bitsandbytes", "huggingface_hub", "ollama",
          "openai", "tenacity", "filelock"]


def pins(path):
    out = {}
    for line in (ROOT / path).read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-\[\]]+)\s*(==|<|<=|>=)\s*([^\s#]+)", line)
        if m:
            out[m.group(1).lower()] = (m.group(2), m.group(3))
    return out


def test_colab_and_cpu_pin_the_same_versions():
    colab, cpu = pins("requirements.txt"), pins("requirements-cpu.txt")
    for name in SHARED:
        assert colab[name][0] == "==" and colab[name] == cpu[name], name
    assert cpu["torch"] == ("==", "2.13.0")
    # inside Unsloth 2026.10.9's declared bounds
    assert colab["unsloth"] == ("==", "2026.10.9") and colab["torch"] == ("<", "2.15")
    major, minor, patch = map(int, colab["trl"][1].split("."))
    assert (major, minor) <= (1, 15) and tuple(map(int, colab["transformers"][1].split("."))) <= (5, 17, 0)


def test_installed_versions_are_the_pinned_ones():
    from importlib.metadata import version

    cpu = pins("requirements-cpu.txt")
    for name in SHARED + ["torch"]:
        assert version(name).split("+")[0] == cpu[name][1], name


def test_nothing_reads_outside_the_repo_and_no_machine_paths():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    for f in tracked:
        if f.endswith((".py", ".md", ".sh", ".toml", ".txt", ".yaml", ".ipynb")) and f != "tests/test_packaging.py":
            text = (ROOT / f).read_text(errors="ignore")
            assert "../shared" not in text, f
            assert not re.search(r"/(work|root|home)/", text), f  # no absolute path of any machine
