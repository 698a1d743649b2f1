"""benchmarks/gpu_smoke.py without a GPU: it says so and exits 0 (what it measures needs CUDA)."""
import os
import subprocess
import sys

from gr_colab.runtime import REPO_ROOT


def test_without_cuda_it_says_so_and_exits_0():
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    for extra in ([], ["--backend", "transformers"]):
        done = subprocess.run([sys.executable, "benchmarks/gpu_smoke.py", *extra], cwd=REPO_ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "no CUDA GPU here, so nothing is measured" in done.stdout
        assert "| stage |" not in done.stdout  # nothing measured, nothing made up
