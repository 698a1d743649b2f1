"""The llama-cpp-python wheel the export compiles once and keeps (on Drive on Colab): built for any x86-64 CPU of
the kind Colab hands out, and reused only when it was built for this machine.

Lowest layer, standard library only: ``scripts/install_llamacpp.sh`` runs this file as a script
(``$PY gr_colab/llamacpp_build.py wheel SDIST WHEELS``), so the same code serves the CPU/CI install and the Colab
path (``gr_colab.llamacpp.ensure_tools`` runs that script), and the tests import it.

Why: llama.cpp's CMake builds with ``GGML_NATIVE=ON`` by default (``-march=native``): a wheel compiled on a Colab VM
with AVX-512 and cached on Drive dies with SIGILL, and no message, on the next VM without it. ``GGML_NATIVE=OFF``
makes ggml enable a fixed set instead (vendor/llama.cpp/ggml/CMakeLists.txt of the 0.3.36 sdist, lines 141-166:
SSE4.2, AVX, AVX2, BMI2, FMA, F16C; AVX-512 off), which every Colab VM has. llama.cpp's CPU-variant build
(``GGML_CPU_ALL_VARIANTS=ON`` + ``GGML_BACKEND_DL=ON``) would keep AVX-512 where there is one, but llama-cpp-python
0.3.36 cannot use it: its CMakeLists.txt installs only the ``ggml-cpu`` target (not ``ggml-cpu-haswell`` etc.) and
its bindings never call ``ggml_backend_load_all`` (llama-cpp-python issue #2069: "no backends are loaded"). On a
CPU without AVX2 the flags drop to plain x86-64 (slow, but it runs). Each wheel gets a record beside it, and a
wheel whose record does not match this machine and these flags is rebuilt, with the reason printed.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Optional

if __package__:
    from .progress import clock, run_with_progress
else:  # run as a file: import the sibling module without importing the gr_colab package
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from progress import clock, run_with_progress  # type: ignore  # noqa: E402

VERSION = "0.3.36"  # llama-cpp-python (keep in step with gr_colab.llamacpp.VERSION and the install script)
RECORD = "build.json"  # beside the wheel: what it was built for
# The instruction sets ggml's GGML_NATIVE=OFF defaults turn on (x86-64-v3), as /proc/cpuinfo names them.
V3_FEATURES = ("sse4_2", "avx", "avx2", "bmi2", "fma", "f16c")
# LLAVA_BUILD=OFF: llama-cpp-python's own option (its CMakeLists.txt:6) that skips tools/mtmd (images and audio, 54 of
# the sdist's C++ files); the kit loads no vision model and llama_cpp imports mtmd only in a vision chat handler.
NO_MTMD = "-DLLAVA_BUILD=OFF"
PORTABLE = ["-DGGML_NATIVE=OFF", NO_MTMD]
BASELINE = PORTABLE + ["-DGGML_SSE42=OFF", "-DGGML_AVX=OFF", "-DGGML_AVX2=OFF", "-DGGML_BMI2=OFF", "-DGGML_FMA=OFF",
                       "-DGGML_F16C=OFF"]  # any x86-64 (SSE2 only): for a CPU without AVX2


def cpu_features(cpuinfo: str = "/proc/cpuinfo") -> Optional[set]:
    """The CPU's instruction-set flags (Linux), or None when they cannot be read."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return None


def cmake_args(features: Optional[set] = None, machine: Optional[str] = None) -> list:
    """The CMake flags for this machine: x86-64-v3 when it has AVX2 & co, plain x86-64 when it does not; other
    architectures just without -march=native. ``CMAKE_ARGS`` in the environment is added last (a student's own)."""
    machine = machine or platform.machine()
    args = list(PORTABLE)
    if machine in ("x86_64", "AMD64") and features is not None and not set(V3_FEATURES) <= features:
        args = list(BASELINE)
    extra = os.environ.get("CMAKE_ARGS", "").split()
    return args + [a for a in extra if a not in args]


def requires(args: list) -> list:
    """The CPU flags a wheel built with ``args`` needs to run."""
    return [] if "-DGGML_AVX2=OFF" in args else list(V3_FEATURES)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def wanted(sdist: Path, args: list) -> dict:
    """What a wheel must have been built for to be used here: the llama.cpp source (the sdist's version and hash),
    the CMake flags, the CPU architecture and the Python ABI."""
    return {"llama_cpp_python": VERSION, "sdist_sha256": sha256(sdist), "cmake_args": list(args),
            "machine": platform.machine(), "python": sys.implementation.cache_tag,
            "requires_cpu": requires(args)}


def mismatch(record: Optional[dict], want: dict, features: Optional[set]) -> Optional[str]:
    """Why a cached wheel cannot be used (None: it can)."""
    if record is None:
        return "no build record beside it (built by an earlier kit, maybe with -march=native)"
    for key in ("llama_cpp_python", "sdist_sha256", "cmake_args", "machine", "python"):
        if record.get(key) != want[key]:
            return f"it was built for {key}={record.get(key)!r}, this machine wants {want[key]!r}"
    if features is not None:
        missing = [f for f in record.get("requires_cpu", []) if f not in features]
        if missing:
            return f"it needs CPU instructions this CPU lacks: {', '.join(missing)}"
    return None


def cached_wheel(wheels: Path, want: dict, features: Optional[set]) -> tuple[Optional[Path], str]:
    """(the wheel to reuse or None, why)."""
    found = sorted(Path(wheels).glob(f"llama_cpp_python-{VERSION}-*.whl"))
    if not found:
        return None, "no wheel built yet"
    record_path = Path(wheels) / RECORD
    try:
        record = json.loads(record_path.read_text()) if record_path.is_file() else None
    except ValueError:
        record = None
    why = mismatch(record, want, features)
    return (None, why) if why else (found[0], f"built {record.get('built', '?')} for this machine")


def build_wheel(sdist: Path, wheels: Path, *, python: str = sys.executable, features: Optional[set] = None,
                pip: Optional[list] = None, every: float = 30.0) -> Path:
    """The wheel for this machine: the cached one when its record matches, else built from the sdist with the
    portable flags (about 8 minutes on 2 cores; a line every ``every`` s says how far the compile is)."""
    sdist, wheels = Path(sdist), Path(wheels)
    features = cpu_features() if features is None else features
    args = cmake_args(features)
    want = wanted(sdist, args)
    wheel, why = cached_wheel(wheels, want, features)
    if wheel is not None:
        print(f"== llama.cpp: reusing {wheel.name} ({why})", flush=True)
        return wheel
    print(f"== llama.cpp: building the llama-cpp-python {VERSION} wheel ({why}); CMAKE_ARGS={' '.join(args)}",
          flush=True)
    print("   compiling llama.cpp: about 8 minutes on 2 cores; a progress line every "
          f"{every:.0f} s", flush=True)
    for stale in [*wheels.glob(f"llama_cpp_python-{VERSION}-*.whl"), wheels / RECORD]:
        stale.unlink(missing_ok=True)
    wheels.mkdir(parents=True, exist_ok=True)
    # --no-cache-dir: pip would otherwise reuse a wheel it built earlier from this same sdist, with other flags
    cmd = (pip or [python, "-m", "pip"]) + ["wheel", "-v", "--no-cache-dir", "--no-deps", str(sdist),
                                           "-w", str(wheels)]
    env = {**os.environ, "CMAKE_ARGS": " ".join(args)}
    start = time.monotonic()
    code, output = run_with_progress(cmd, "compiling llama.cpp", env=env, log=wheels / "build.log", every=every)
    found = sorted(wheels.glob(f"llama_cpp_python-{VERSION}-*.whl"))
    if code != 0 or not found:
        tail = "\n".join(output.splitlines()[-30:])
        raise RuntimeError(f"building llama-cpp-python failed (exit {code}); the whole log is in "
                           f"{wheels / 'build.log'}; its end:\n{tail}")
    seconds = time.monotonic() - start
    record = {**want, "built": time.strftime("%Y-%m-%d %H:%M:%S"), "build_seconds": round(seconds),
              "wheel": found[0].name}
    tmp = wheels / f".{RECORD}.partial"
    tmp.write_text(json.dumps(record, indent=2))
    os.replace(tmp, wheels / RECORD)
    print(f"== llama.cpp: built {found[0].name} in {clock(seconds)}", flush=True)
    return found[0]


def main(argv: list) -> int:
    if len(argv) == 3 and argv[0] == "wheel":
        try:
            build_wheel(Path(argv[1]), Path(argv[2]))
        except RuntimeError as exc:
            print(exc, file=sys.stderr)
            return 1
        return 0
    if argv == ["flags"]:
        print(" ".join(cmake_args(cpu_features())))
        return 0
    print("usage: llamacpp_build.py wheel SDIST WHEEL_DIR | flags", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
