"""The llama-cpp-python wheel's build record: portable flags passed to the sdist build, a cached wheel reused only
when its record matches this machine, rebuilt (with the reason) when not, and progress lines during the compile.

The compile itself (about 8 minutes) cannot run in a test: a FAKE pip stands in for ``pip wheel`` (it prints
ninja-style ``[n/N]`` steps as pip -v does, writes a wheel-named file and records the CMAKE_ARGS it was given).
"""
import json
import subprocess
import sys
import textwrap

import pytest

from gr_colab import llamacpp_build as lb
from gr_colab.runtime import REPO_ROOT

V3 = set(lb.V3_FEATURES) | {"sse", "sse2", "avx512f"}
NO_AVX2 = {"sse", "sse2", "sse4_2", "avx"}


@pytest.fixture
def fake_pip(tmp_path, monkeypatch):
    """A FAKE of ``python -m pip wheel -v SDIST -w DIR`` (the real one compiles llama.cpp for minutes)."""
    monkeypatch.delenv("CMAKE_ARGS", raising=False)
    calls = tmp_path / "calls.jsonl"
    script = tmp_path / "fake_pip.py"
    script.write_text(textwrap.dedent(f"""
        import json, os, sys, time
        args = sys.argv[1:]
        out = args[args.index("-w") + 1]
        with open({str(calls)!r}, "a") as f:
            f.write(json.dumps({{"args": args, "CMAKE_ARGS": os.environ.get("CMAKE_ARGS")}}) + "\\n")
        for i in range(1, 4):
            print(f"[{{i}}/3] Building CXX object ggml-cpu{{i}}.o", flush=True)
            time.sleep(0.15)
        os.makedirs(out, exist_ok=True)
        open(os.path.join(out, "llama_cpp_python-{lb.VERSION}-cp311-cp311-linux_x86_64.whl"), "wb").write(b"PK")
    """))
    sdist = tmp_path / f"llama_cpp_python-{lb.VERSION}.tar.gz"
    sdist.write_bytes(b"the sdist's bytes")

    def made():
        return [json.loads(line) for line in calls.read_text().splitlines()] if calls.exists() else []

    return {"pip": [sys.executable, str(script)], "sdist": sdist, "wheels": tmp_path / "wheels", "calls": made}


def test_the_build_is_portable_and_records_what_it_was_built_for(fake_pip, capsys):
    wheel = lb.build_wheel(fake_pip["sdist"], fake_pip["wheels"], features=V3, pip=fake_pip["pip"], every=0.1)
    (call,) = fake_pip["calls"]()
    assert call["CMAKE_ARGS"] == "-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF"  # not -march=native: no AVX-512 even on an
    # AVX-512 VM; no mtmd (vision and audio)
    assert "--no-cache-dir" in call["args"]  # pip's own wheel cache would hand back a build with other flags
    record = json.loads((fake_pip["wheels"] / lb.RECORD).read_text())
    assert record["cmake_args"] == ["-DGGML_NATIVE=OFF", "-DLLAVA_BUILD=OFF"] and record["wheel"] == wheel.name
    assert record["llama_cpp_python"] == lb.VERSION and record["python"] == sys.implementation.cache_tag
    assert record["sdist_sha256"] == lb.sha256(fake_pip["sdist"]) and "avx2" in record["requires_cpu"]
    out = capsys.readouterr().out
    assert "compiling llama.cpp:" in out and "elapsed, step" in out and "/3" in out  # the heartbeat with steps
    assert "built llama_cpp_python" in out


def test_a_matching_record_is_reused_without_compiling(fake_pip, capsys):
    first = lb.build_wheel(fake_pip["sdist"], fake_pip["wheels"], features=V3, pip=fake_pip["pip"], every=5)
    again = lb.build_wheel(fake_pip["sdist"], fake_pip["wheels"], features=V3, pip=fake_pip["pip"], every=5)
    assert again == first and len(fake_pip["calls"]()) == 1
    assert "reusing" in capsys.readouterr().out


@pytest.mark.parametrize("change, reason", [
    (lambda r: r.update(cmake_args=[]), "cmake_args"),  # an old native build
    (lambda r: r.update(python="cpython-310"), "python"),  # another Python ABI
    (lambda r: r.update(sdist_sha256="0" * 64), "sdist_sha256"),  # another llama.cpp source
    (lambda r: r.clear(), "no build record"),
])
def test_a_record_that_does_not_match_is_rebuilt_and_says_why(fake_pip, capsys, change, reason):
    lb.build_wheel(fake_pip["sdist"], fake_pip["wheels"], features=V3, pip=fake_pip["pip"], every=5)
    path = fake_pip["wheels"] / lb.RECORD
    record = json.loads(path.read_text())
    change(record)
    if record:
        path.write_text(json.dumps(record))
    else:
        path.unlink()
    capsys.readouterr()
    lb.build_wheel(fake_pip["sdist"], fake_pip["wheels"], features=V3, pip=fake_pip["pip"], every=5)
    assert len(fake_pip["calls"]()) == 2
    assert reason in capsys.readouterr().out
    assert json.loads(path.read_text())["cmake_args"] == lb.PORTABLE  # the record is new


def test_a_cpu_without_avx2_gets_plain_x86_64_and_refuses_a_v3_wheel(fake_pip, capsys):
    assert lb.cmake_args(NO_AVX2, "x86_64") == lb.BASELINE
    assert lb.cmake_args(V3, "x86_64") == lb.PORTABLE and lb.cmake_args(None, "x86_64") == lb.PORTABLE
    lb.build_wheel(fake_pip["sdist"], fake_pip["wheels"], features=V3, pip=fake_pip["pip"], every=5)
    want = lb.wanted(fake_pip["sdist"], lb.PORTABLE)
    record = json.loads((fake_pip["wheels"] / lb.RECORD).read_text())
    assert lb.mismatch(record, want, V3) is None
    assert "avx2" in lb.mismatch(record, want, NO_AVX2)  # the SIGILL this record exists to prevent
    lb.build_wheel(fake_pip["sdist"], fake_pip["wheels"], features=NO_AVX2, pip=fake_pip["pip"], every=5)
    assert fake_pip["calls"]()[-1]["CMAKE_ARGS"] == " ".join(lb.BASELINE)


def test_a_students_own_cmake_args_are_added_and_recorded(monkeypatch):
    monkeypatch.setenv("CMAKE_ARGS", "-DGGML_BLAS=ON")
    assert lb.cmake_args(V3, "x86_64") == ["-DGGML_NATIVE=OFF", "-DLLAVA_BUILD=OFF", "-DGGML_BLAS=ON"]


def test_cpu_features_read_proc_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 fma\n")
    assert lb.cpu_features(str(info)) == {"fpu", "sse2", "avx2", "fma"}
    assert lb.cpu_features(str(tmp_path / "missing")) is None


def test_a_failed_build_names_its_log(tmp_path, monkeypatch):
    monkeypatch.delenv("CMAKE_ARGS", raising=False)
    sdist = tmp_path / "s.tar.gz"
    sdist.write_bytes(b"x")
    failing = [sys.executable, "-c", "print('CMake Error: could not find compiler'); raise SystemExit(1)"]
    with pytest.raises(RuntimeError, match="build.log(.|\n)*CMake Error"):
        lb.build_wheel(sdist, tmp_path / "wheels", features=V3, pip=failing, every=5)
    assert "CMake Error" in (tmp_path / "wheels" / "build.log").read_text()


def test_the_install_script_runs_it_as_a_file_without_importing_the_package():
    """scripts/install_llamacpp.sh runs gr_colab/llamacpp_build.py as a file: importing the gr_colab package would
    import Unsloth first on Colab."""
    code = ("import runpy, sys; sys.argv = ['llamacpp_build.py', 'flags']\n"
            "try:\n    runpy.run_path('gr_colab/llamacpp_build.py', run_name='__main__')\n"
            "except SystemExit as e:\n    assert e.code == 0, e.code\n"
            "print('package imported:', 'gr_colab' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert "-DGGML_NATIVE=OFF" in done.stdout and "package imported: False" in done.stdout
    script = (REPO_ROOT / "scripts" / "install_llamacpp.sh").read_text()
    assert '"$PY" gr_colab/llamacpp_build.py wheel "$SDIST" "$DEST/wheels"' in script
