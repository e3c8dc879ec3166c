"""careerqa benchmark: ingest, query, memory, cold start and scale, each against a floor.

    .venv/bin/python bench/run.py [--quick] [--out bench/results]

Every figure is a median over repeated runs, and every speed is also given as a
ratio to a floor measured in the same run on the same machine (see bench/README.md).
Writes results.json (raw figures) and results.md (the table) into --out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

from careerqa import embedding, store  # noqa: E402
from careerqa.embedding import SentenceTransformerEmbedder  # noqa: E402
from careerqa.index import VectorIndex  # noqa: E402
from careerqa.ingest import ingest  # noqa: E402
from careerqa.settings import Settings  # noqa: E402

QUESTIONS = [
    json.loads(line)["question"]
    for path in (REPO / "eval" / "dev.jsonl", REPO / "eval" / "extra.jsonl")
    if path.exists()
    for line in path.read_text().splitlines()
    if line.strip()
]


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def fresh_embedder(settings: Settings) -> SentenceTransformerEmbedder:
    """An embedder whose model is not loaded yet (the in-process cache is emptied)."""
    embedding.clear_model_cache()
    return SentenceTransformerEmbedder.from_settings(settings)


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- ingest -------------------------------------------------------------------


def bench_ingest(settings: Settings, floor_settings: Settings, work: Path, repeats: int) -> dict:
    log("ingest: from scratch vs model load + bare encode of the same chunk texts")
    # Both sides time loading a model, not importing its libraries: those imports
    # (torch for the floor, onnxruntime for careerqa) are paid here, before any timing.
    import onnxruntime  # noqa: F401
    import sentence_transformers  # noqa: F401
    import tokenizers  # noqa: F401

    scratch, floor, same_backend = [], [], []
    chunks = 0
    for r in range(repeats):
        index_dir = work / f"ingest-{r}"
        s = settings.model_copy(update={"index_dir": index_dir})
        start = time.perf_counter()
        report = ingest(s, fresh_embedder(s), progress=False)
        scratch.append(time.perf_counter() - start)
        chunks = report.chunks_embedded
        texts = [c.chunk.embed_text for c in store.load(index_dir).chunks]
        for backend_settings, times in ((floor_settings, floor), (s, same_backend)):
            start = time.perf_counter()
            fresh_embedder(backend_settings).embed(texts)  # same batch size
            times.append(time.perf_counter() - start)
    log("ingest: no-change re-run (a separate `careerqa ingest` process)")
    no_change, loaded = [], []
    env = {
        **os.environ,
        "CAREERQA_CORPUS_DIR": str(settings.corpus_dir),
        "CAREERQA_INDEX_DIR": str(work / "ingest-0"),
    }
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "careerqa", "ingest"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        no_change.append(time.perf_counter() - start)
        assert "0 chunks embedded" in done.stdout, done.stdout
    s = settings.model_copy(update={"index_dir": work / "ingest-0"})
    probe = fresh_embedder(s)
    ingest(s, probe, progress=False)
    loaded.append(probe.loaded)
    return {
        "chunks": chunks,
        "scratch_s": median(scratch),
        "floor_s": median(floor),
        "ratio": median(scratch) / median(floor),
        "same_backend_floor_s": median(same_backend),
        "chunks_per_s": chunks / median(scratch),
        "no_change_s": median(no_change),
        "no_change_loads_model": any(loaded),
        "runs": {
            "scratch": scratch,
            "floor": floor,
            "same_backend_floor": same_backend,
            "no_change": no_change,
        },
    }


# --- query --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(settings: Settings, index_dir: Path) -> tuple[subprocess.Popen, str, float]:
    port = free_port()
    env = {
        **os.environ,
        "CAREERQA_CORPUS_DIR": str(settings.corpus_dir),
        "CAREERQA_INDEX_DIR": str(index_dir),
        "CAREERQA_BACKEND": settings.backend,
    }
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "careerqa", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    while time.perf_counter() - start < 120:
        try:
            status = asyncio.run(_get(port, "/readyz"))
            if status == 200:
                return proc, url, time.perf_counter() - start
        except OSError:
            pass
        time.sleep(0.02)
    proc.kill()
    raise RuntimeError("server did not become ready")


async def _get(port: int, path: str) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    line = await reader.readline()
    writer.close()
    return int(line.split()[1])


async def _client(
    port: int,
    bodies: list[bytes],
    counter: list[int],
    total: int,
    latencies: list[float],
    errors: list[str],
) -> None:
    """One keep-alive connection sending requests until `total` have been sent overall."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while counter[0] < total:
            body = bodies[counter[0] % len(bodies)]
            counter[0] += 1
            request = (
                b"POST /ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )
            start = time.perf_counter()
            writer.write(request)
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            if status != 200:
                errors.append(str(status))
    except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
        errors.append(repr(exc))
    finally:
        writer.close()


def load(port: int, clients: int, total: int) -> dict:
    bodies = [json.dumps({"question": q}).encode() for q in QUESTIONS]
    latencies: list[float] = []
    errors: list[str] = []
    counter = [0]

    async def run() -> None:
        await asyncio.gather(
            *(_client(port, bodies, counter, total, latencies, errors) for _ in range(clients))
        )

    start = time.perf_counter()
    asyncio.run(run())
    wall = time.perf_counter() - start
    return {
        "p50_ms": percentile(latencies, 50) * 1000,
        "p95_ms": percentile(latencies, 95) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "rps": len(latencies) / wall,
        "requests": len(latencies),
        "errors": len(errors),
    }


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def query_floor(settings: Settings, index_dir: Path, repeats: int) -> dict:
    """In-process: embed one question (batch of one) + flat FAISS search, same vector count."""
    embedder = fresh_embedder(settings)
    vectors = store.load(index_dir).vectors
    flat = VectorIndex.build(vectors, kind="flat")
    embedder.embed(QUESTIONS[:4])
    times = []
    for _ in range(repeats):
        for q in QUESTIONS:
            start = time.perf_counter()
            flat.search(embedder.embed([q]), 10)
            times.append(time.perf_counter() - start)
    return {"p50_ms": median(times) * 1000, "vectors": len(vectors), "samples": len(times)}


def bench_query(
    settings: Settings, floor_settings: Settings, work: Path, repeats: int, requests: dict[int, int]
) -> dict:
    index_dir = work / "ingest-0"
    log("query: floor (in-process embed + flat FAISS search)")
    floor = query_floor(floor_settings, index_dir, repeats)
    same_backend = query_floor(settings, index_dir, repeats)
    log("query: /ask over HTTP against `careerqa serve`")
    proc, url, _ = start_server(settings, index_dir)
    port = int(url.rsplit(":", 1)[1])
    sent = 0
    try:
        load(port, 1, 20)  # warm up
        sent += 20
        rss_start = rss_mb(proc.pid)
        levels = {}
        for clients, total in requests.items():
            runs = [load(port, clients, total) for _ in range(repeats)]
            sent += sum(r["requests"] for r in runs)
            levels[clients] = {key: median([r[key] for r in runs]) for key in runs[0]}
            levels[clients]["errors"] = sum(r["errors"] for r in runs)
            log(f"query: {clients} clients: {levels[clients]}")
        if sent < 2000:
            load(port, 4, 2000 - sent)
            sent = 2000
        rss_end = rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(10)
    floor_rate = 1000 / floor["p50_ms"]
    return {
        "floor": floor,
        "same_backend_floor": same_backend,
        "levels": levels,
        "p50_ratio_1": levels[1]["p50_ms"] / floor["p50_ms"],
        "throughput_ratio_16": levels[16]["rps"] / floor_rate,
        "p99_16_over_floor_p50": levels[16]["p99_ms"] / floor["p50_ms"],
        "rss_start_mb": rss_start,
        "rss_after_mb": rss_end,
        "rss_ratio": rss_end / rss_start,
        "questions_sent": sent,
    }


def bench_cold_start(settings: Settings, work: Path, repeats: int) -> dict:
    log("cold start: process start to /readyz 200 with an existing index")
    times = []
    for _ in range(repeats):
        proc, _, elapsed = start_server(settings, work / "ingest-0")
        times.append(elapsed)
        proc.terminate()
        proc.wait(10)
    return {"ready_s": median(times), "runs": times}


# --- scale --------------------------------------------------------------------


def bench_scale(settings: Settings, work: Path, sizes: list[int], repeats: int) -> dict:
    """Synthetic corpora around the real vectors, searched with real question vectors."""
    data = store.load(work / "ingest-0")
    anchors = np.concatenate([data.vectors, data.sentence_vectors])
    embedder = fresh_embedder(settings)
    queries = embedder.embed(QUESTIONS)
    rng = np.random.default_rng(42)
    out = {}
    for n in sizes:
        log(f"scale: {n:,} vectors")
        noise = rng.standard_normal((n, anchors.shape[1]), dtype=np.float32) * 0.04
        vectors = anchors[rng.integers(0, len(anchors), n)] + noise
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        row = {}
        for kind in ("flat", "ivf"):
            start = time.perf_counter()
            index = VectorIndex.build(vectors, kind=kind)
            build = time.perf_counter() - start
            times, found = [], []
            for _ in range(repeats):
                for q in queries:
                    t = time.perf_counter()
                    _, ids = index.search(q.reshape(1, -1), 10)
                    times.append(time.perf_counter() - t)
                    found.append(ids[0])
            row[kind] = {"build_s": build, "search_ms": median(times) * 1000, "ids": found}
            del index
        truth = row["flat"].pop("ids")
        approx = row["ivf"].pop("ids")
        recall = [len(set(a) & set(t)) / 10 for a, t in zip(approx, truth, strict=True)]
        row["ivf"]["recall@10"] = float(np.mean(recall))
        row["ivf_speedup"] = row["flat"]["search_ms"] / row["ivf"]["search_ms"]
        out[n] = row
        log(f"scale: {n:,}: {row}")
        del vectors, noise
    return out


# --- report -------------------------------------------------------------------


def _corpus_text(megabytes: float) -> str:
    """The shipped corpus repeated to `megabytes` MB, each copy marked apart."""
    seed = "\n\n".join(p.read_text() for p in sorted((REPO / "corpus").glob("*.txt")))
    copies = int(megabytes * 1e6 / len(seed)) + 1
    text = "\n\n".join(f"{seed}\nSection {i} closing words." for i in range(copies))
    return text[: int(megabytes * 1e6)]


def _timed_ingest(folder: Path) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of `careerqa ingest` in its own process."""
    env = {
        **os.environ,
        "CAREERQA_CORPUS_DIR": str(folder / "corpus"),
        "CAREERQA_INDEX_DIR": str(folder / "index"),
    }
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "careerqa", "ingest"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"ingest of {folder} failed ({proc.returncode})")
    return time.perf_counter() - start, usage.ru_maxrss / 1024


def bench_large(work: Path, megabytes: float) -> dict:
    """One article of N MB against the same text as ordinary articles of about 50 KB."""
    log(f"large article: one {megabytes:g} MB article vs the same text in 50 KB articles")
    text = _corpus_text(megabytes)
    one, many = work / "large-one", work / "large-many"
    (one / "corpus").mkdir(parents=True)
    (one / "corpus" / "large.txt").write_text(text)
    (many / "corpus").mkdir(parents=True)
    part: list[str] = []
    size = files = 0
    for paragraph in text.split("\n\n"):
        part.append(paragraph)
        size += len(paragraph) + 2
        if size >= 50_000:
            (many / "corpus" / f"part-{files:04d}.txt").write_text("\n\n".join(part))
            part, size, files = [], 0, files + 1
    if part:
        (many / "corpus" / f"part-{files:04d}.txt").write_text("\n\n".join(part))
        files += 1
    one_s, one_rss = _timed_ingest(one)
    many_s, many_rss = _timed_ingest(many)
    return {
        "megabytes": megabytes,
        "articles": files,
        "one_s": one_s,
        "one_rss_mb": one_rss,
        "many_s": many_s,
        "many_rss_mb": many_rss,
        "time_ratio": one_s / many_s,
        "rss_ratio": one_rss / many_rss,
    }


def large_row(large: dict) -> str:
    holds = large["time_ratio"] <= 1.2 and large["rss_ratio"] <= 1.2
    return (
        f"| ingest one {large['megabytes']:g} MB article | {large['one_s']:.1f} s, peak RSS "
        f"{large['one_rss_mb']:.0f} MB | the same text in {large['articles']} articles: "
        f"{large['many_s']:.1f} s, {large['many_rss_mb']:.0f} MB | time "
        f"{large['time_ratio']:.2f}, RSS {large['rss_ratio']:.2f} | both ≤ 1.2 | "
        f"{'yes' if holds else 'no'} |"
    )


def table(results: dict) -> str:
    i, q, c = results["ingest"], results["query"], results["cold_start"]
    lines = [
        f"careerqa bench — {results['when']}, backend {results['backend']}, "
        f"{results['cores']} cores; medians of {results['repeats']} runs",
        "",
        "| figure | value | floor | ratio | target | holds |",
        "| --- | --- | --- | --- | --- | --- |",
    ]

    def row(name: str, value: str, floor: str, ratio: str, target: str, holds: bool) -> None:
        lines.append(
            f"| {name} | {value} | {floor} | {ratio} | {target} | {'yes' if holds else 'no'} |"
        )

    lines.insert(
        1,
        f"Floors use the reference encoder (sentence-transformers on {results['floor_backend']});"
        " careerqa runs on its configured backend.",
    )
    row(
        "ingest from scratch",
        f"{i['scratch_s']:.2f} s ({i['chunks_per_s']:.0f} chunks/s)",
        f"{i['floor_s']:.2f} s",
        f"{i['ratio']:.2f}",
        "≤ 1.2",
        i["ratio"] <= 1.2,
    )
    row(
        "no-change re-ingest",
        f"{i['no_change_s']:.2f} s, model loaded: {i['no_change_loads_model']}",
        "",
        "",
        "no model load; ≤ 1 s",
        i["no_change_s"] <= 1 and not i["no_change_loads_model"],
    )
    f50 = q["floor"]["p50_ms"]
    for clients, lv in q["levels"].items():
        lines.append(
            f"| /ask, {clients} client(s) | p50 {lv['p50_ms']:.1f} / p95 {lv['p95_ms']:.1f} / "
            f"p99 {lv['p99_ms']:.1f} ms, {lv['rps']:.0f} req/s, {lv['errors']} errors | "
            f"p50 {f50:.2f} ms, {1000 / f50:.0f} req/s | p50 {lv['p50_ms'] / f50:.2f}, "
            f"rate {lv['rps'] * f50 / 1000:.2f} | | |"
        )
    row(
        "/ask p50, 1 client ÷ floor p50",
        "",
        "",
        f"{q['p50_ratio_1']:.2f}",
        "≤ 1.3",
        q["p50_ratio_1"] <= 1.3,
    )
    errors16 = q["levels"][16]["errors"]
    row(
        "/ask throughput, 16 clients ÷ floor rate",
        f"{errors16} errors",
        "",
        f"{q['throughput_ratio_16']:.2f}",
        "≥ 2.0, zero errors",
        q["throughput_ratio_16"] >= 2 and errors16 == 0,
    )
    row(
        "/ask p99, 16 clients ÷ floor p50",
        "",
        "",
        f"{q['p99_16_over_floor_p50']:.1f}",
        "≤ 10",
        q["p99_16_over_floor_p50"] <= 10,
    )
    row(
        "server RSS after 2,000 questions ÷ after start",
        f"{q['rss_after_mb']:.0f} MB / {q['rss_start_mb']:.0f} MB",
        "",
        f"{q['rss_ratio']:.3f}",
        "≤ 1.1",
        q["rss_ratio"] <= 1.1,
    )
    sb = q["same_backend_floor"]["p50_ms"]
    lines.append(
        f"| same-backend floors (for reference) | query p50 {sb:.2f} ms; ingest "
        f"{i['same_backend_floor_s']:.2f} s | | /ask p50 1 client ÷ it: "
        f"{q['levels'][1]['p50_ms'] / sb:.2f}; ingest ÷ it: "
        f"{i['scratch_s'] / i['same_backend_floor_s']:.2f} | | |"
    )
    lines.append(f"| cold start to /readyz 200 | {c['ready_s']:.2f} s | | | | |")
    for n, s in results["scale"].items():
        ivf = s["ivf"]
        holds = ivf["recall@10"] >= 0.95 and s["ivf_speedup"] >= 20
        row(
            f"scale {int(n):,} vectors: IVF vs flat",
            f"IVF {ivf['search_ms']:.3f} ms (build {ivf['build_s']:.1f} s), "
            f"recall@10 {ivf['recall@10']:.3f}",
            f"flat {s['flat']['search_ms']:.3f} ms (build {s['flat']['build_s']:.1f} s)",
            f"{s['ivf_speedup']:.1f}× faster",
            "at 1M: recall ≥ 0.95, ≥ 20×" if int(n) >= 1_000_000 else "",
            holds if int(n) >= 1_000_000 else ivf["recall@10"] >= 0.95,
        )
    lines.append(large_row(results["large"]))
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer runs and requests; scale up to 100k"
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument(
        "--backend",
        choices=["auto", "onnx", "torch"],
        default="auto",
        help="careerqa's encoder runtime (default: auto)",
    )
    parser.add_argument(
        "--floor-backend",
        choices=["onnx", "torch"],
        default="torch",
        help="the reference encoder the floors use (default: torch)",
    )
    parser.add_argument(
        "--large-only",
        action="store_true",
        help="only the large-article figure (one N MB article vs the same text in 50 KB ones)",
    )
    args = parser.parse_args()
    repeats = 3 if args.quick else 5
    requests = {1: 100, 4: 200, 16: 400} if args.quick else {1: 300, 4: 600, 16: 1200}
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    work = Path(tempfile.mkdtemp(prefix="careerqa-bench-"))
    megabytes = 1.0 if args.quick else 4.0
    if args.large_only:
        try:
            print(large_row(bench_large(work, megabytes)))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return
    settings = Settings(corpus_dir=REPO / "corpus", index_dir=work / "unused", backend=args.backend)
    floor_settings = settings.model_copy(update={"backend": args.floor_backend})
    try:
        results = {
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "backend": args.backend,
            "floor_backend": args.floor_backend,
            "cores": os.cpu_count(),
            "repeats": repeats,
            "ingest": bench_ingest(settings, floor_settings, work, repeats),
        }
        results["query"] = bench_query(settings, floor_settings, work, repeats, requests)
        results["cold_start"] = bench_cold_start(settings, work, repeats)
        results["scale"] = bench_scale(settings, work, sizes, 1 if not args.quick else 1)
        results["large"] = bench_large(work, megabytes)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    (args.out / "results.md").write_text(table(results))
    print(table(results))


if __name__ == "__main__":
    main()
