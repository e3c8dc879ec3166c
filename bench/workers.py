"""Throughput of `careerqa serve --workers N` and the memory of each worker.

Usage: .venv/bin/python bench/workers.py [--workers 1 2 4] [--requests 300] [--clients 8]

Builds the seed corpus' index in a temporary folder, then for each N starts
`careerqa serve --workers N` on 127.0.0.1, warms it up, and sends `--requests`
questions from `--clients` concurrent clients (questions of eval/dev2.jsonl, in
turn). Reports requests per second (median of `--rounds` rounds) as a ratio to one
worker measured in the same run, and each worker's RSS and PSS (proportional set
size: pages shared between processes, such as the memory-mapped vectors and the
libraries, are split among them).
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from run import free_port  # noqa: E402  (bench/run.py: the benchmark's own helpers)


def _questions() -> list[str]:
    lines = (REPO / "eval" / "dev2.jsonl").read_text().splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def _env(root: Path) -> dict[str, str]:
    import os

    return {
        **os.environ,
        "CAREERQA_CORPUS_DIR": str(root / "corpus"),
        "CAREERQA_INDEX_DIR": str(root / "index"),
        "CAREERQA_DATA_DIR": str(root / "data"),
        "CAREERQA_STORE": "embedded",
    }


def _round(url: str, questions: list[str], requests: int, clients: int) -> float:
    """Requests per second for one round of `requests` questions."""
    lock = threading.Lock()
    left = [requests]
    failures = []

    def client(k: int) -> None:
        with httpx.Client(timeout=120) as http:
            while True:
                with lock:
                    if left[0] <= 0:
                        return
                    left[0] -= 1
                    n = left[0]
                r = http.post(url + "/ask", json={"question": questions[(n + k) % len(questions)]})
                if r.status_code != 200:
                    failures.append(r.status_code)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise SystemExit(f"{len(failures)} requests failed: {failures[:5]}")
    return requests / (time.perf_counter() - started)


def _measure(root: Path, workers: int, args: argparse.Namespace) -> dict[str, object]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "careerqa", "serve", "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--workers", str(workers)],
        env=_env(root),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/readyz", timeout=5).json().get("ready"):
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        questions = _questions()
        _round(url, questions, 4 * args.clients, args.clients)  # warm every worker up
        rates = [_round(url, questions, args.requests, args.clients) for _ in range(args.rounds)]
        processes = psutil.Process(server.pid).children(recursive=True)
        serving = [p for p in processes if "spawn_main" in " ".join(p.cmdline())] or [
            psutil.Process(server.pid)
        ]
        memory = [p.memory_full_info() for p in serving]
        return {
            "workers": workers,
            "rate": statistics.median(rates),
            "rss_mib": statistics.median(m.rss / 2**20 for m in memory),
            "pss_mib": statistics.median(m.pss / 2**20 for m in memory),
        }
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copytree(REPO / "corpus", root / "corpus")
        done = subprocess.run(
            [sys.executable, "-m", "careerqa", "ingest"], env=_env(root), capture_output=True
        )
        if done.returncode:
            raise SystemExit(done.stderr.decode())
        rows = [_measure(root, n, args) for n in args.workers]
    base = rows[0]["rate"]
    print(
        f"{args.requests} requests × {args.rounds} rounds, {args.clients} clients, "
        f"{psutil.cpu_count()} cores"
    )
    print(
        "| workers | requests/s (median) | × one worker | RSS per worker, MiB | PSS per worker, MiB |"
    )
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        print(
            f"| {row['workers']} | {row['rate']:.1f} | {row['rate'] / base:.2f} | "  # type: ignore[operator]
            f"{row['rss_mib']:.0f} | {row['pss_mib']:.0f} |"
        )


if __name__ == "__main__":
    main()
