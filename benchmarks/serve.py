"""Latency (p50/p95) and throughput of `gr-colab serve` on loopback at 1, 4 and 16 concurrent clients, beside the same
guard called in process (no HTTP, no queue) in the same run: what the server adds to each verdict.

    python benchmarks/serve.py [--gguf PATH] [--requests 32] [--max-tokens 32] [--time-limit 60]

Without --gguf it builds the CPU twin and converts it to an f16 GGUF (needs llama.cpp's converter: make setup).
Each level sends at most --requests requests and stops starting new ones after --time-limit seconds. One llama.cpp
context serves one request at a time, so throughput cannot rise with clients; latency grows with the queue.
"""
import argparse
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from gr_colab import llamacpp, twin
from gr_colab.service import Moderator

PROMPTS = ["How do I bake sourdough bread?", "Tell me how to get into my neighbour's wifi.",
           "What is the capital of France?", "Write a threatening note to my coworker."]


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def summary(name, latencies, wall):
    return {"name": name, "n": len(latencies), "p50": pct(latencies, 50), "p95": pct(latencies, 95),
            "rps": len(latencies) / wall if wall else 0.0}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(base, proc, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gr-colab serve exited {proc.returncode}: {proc.stderr.read()}")
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"gr-colab serve did not come up in {seconds} s")


def in_process(moderator, n, time_limit):
    lat, start = [], time.perf_counter()
    for i in range(n):
        if time.perf_counter() - start > time_limit:
            break
        t = time.perf_counter()
        moderator.moderate(PROMPTS[i % len(PROMPTS)])
        lat.append((time.perf_counter() - t) * 1000)
    return summary("in process, 1 caller", lat, time.perf_counter() - start)


def over_http(base, clients, n, time_limit):
    start = time.perf_counter()

    # one pooled client (keep-alive), as a real caller would hold: a fresh httpx client per call adds its own setup
    client = httpx.Client(timeout=600, limits=httpx.Limits(max_connections=clients))

    def one(i):
        if time.perf_counter() - start > time_limit:
            return None
        t = time.perf_counter()
        r = client.post(base + "/v1/moderate", json={"prompt": PROMPTS[i % len(PROMPTS)]})
        r.raise_for_status()
        return (time.perf_counter() - t) * 1000

    with client, ThreadPoolExecutor(clients) as pool:
        lat = [x for x in pool.map(one, range(n)) if x is not None]
    return summary(f"HTTP, {clients:>2} clients", lat, time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gguf")
    parser.add_argument("--requests", type=int, default=32, help="requests per level (bounded)")
    parser.add_argument("--max-tokens", type=int, default=32, help="tokens the guard writes per verdict")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per level before it stops sending")
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads on both sides (1: on a shared "
                        "machine, llama.cpp's spinning worker threads collapse when cores are oversubscribed)")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    gguf = args.gguf
    if not gguf:
        hf_dir = twin.build_twin(Path(tmp.name) / "twin", twin.default_corpus())
        gguf = llamacpp.convert_to_gguf(hf_dir, Path(tmp.name) / "twin-f16.gguf", "f16")
    moderator = Moderator(gguf, n_ctx=2048, max_tokens=args.max_tokens, n_threads=args.threads)
    # both sides send the same prompts in the same mix; greedy decoding writes the same verdicts: the same work
    moderator.moderate(PROMPTS[0])  # warm-up
    port = free_port()
    # the server as a user runs it: `gr-colab serve` in its own process, the clients in this one
    proc = subprocess.Popen([sys.executable, "-m", "gr_colab", "serve", "--gguf", str(gguf), "--port", str(port),
                             "--n-ctx", "2048", "--max-tokens", str(args.max_tokens), "--threads", str(args.threads)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for(f"http://127.0.0.1:{port}", proc)
    # The machine may be shared: each level is measured right after its own in-process baseline (same requests,
    # same count), and compared with it.
    pairs = []
    for clients in (1, 4, 16):
        base = in_process(moderator, args.requests, args.time_limit)
        pairs.append((base, over_http(f"http://127.0.0.1:{port}", clients, args.requests, args.time_limit)))
    proc.terminate()
    proc.wait(timeout=30)

    print(f"{Path(gguf).name}: {args.max_tokens} tokens at most per verdict, {args.requests} requests per level "
          f"(prompts: {len(PROMPTS)} in turn)")
    print(f"{'':22} {'n':>4} {'p50 ms':>9} {'p95 ms':>9} {'req/s':>7} {'p50 vs base':>12} {'req/s vs base':>14}")
    for base, r in pairs:
        for row in (base, r):
            print(f"{row['name']:22} {row['n']:>4} {row['p50']:>9.1f} {row['p95']:>9.1f} {row['rps']:>7.2f} "
                  f"{row['p50'] / base['p50']:>11.2f}x {row['rps'] / base['rps']:>13.2f}x")
    moderator.llm.close()
    tmp.cleanup()


if __name__ == "__main__":
    main()
