"""Ingest at scale, per store: chunks per second, peak memory, resuming after a kill;
and Milvus Lite's search latency and recall@10 against exact search.

Usage:
  .venv/bin/python bench/scale.py ingest --articles 1000 10000 [--stores embedded milvus]
                                         [--embedder hash|model] [--kill-after 20]
                                         [--memory-limit 1024]
  .venv/bin/python bench/scale.py search --chunks 100000 1000000 [--stores embedded milvus]

`ingest` writes the synthetic corpus (bench/synthetic.py) once per size under
--work, then runs `careerqa`'s ingest from scratch in a child process per size and
store, and reports chunks embedded per second, the child's peak RSS (`wait4`'s ru_maxrss)
and its peak anonymous memory (RssAnon, sampled: RSS also counts pages of the build's
files that the kernel can drop). With --memory-limit M each ingest runs in a memory
cgroup of M MiB (cgroup v1, as root): it finishes only if it fits. With --kill-after S it also kills one ingest with SIGKILL
after S seconds and runs it again: the second run reports how many documents it
took from the staging folder instead of embedding them.

`--embedder model` is the bundled all-MiniLM-L6-v2 (what users run);
`--embedder hash` is a deterministic word-hashing embedder with the model's 384
dimensions and none of its cost, which isolates what the pipeline and the store
cost (cleaning, chunking, writing, indexing) at sizes the model would take hours to
embed on two cores. The table says which one ran.

`search` puts N clustered random unit vectors (384 dimensions) in a Milvus Lite
collection (its AUTOINDEX) and in careerqa's embedded index, written and loaded as a
build's is (flat below 50,000, IVF with its lists on disk from there), and, as the
baseline of the same run, in faiss' exact flat index held in memory; it reports the
median latency of 200 queries and recall@10 against exact search (numpy).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))


class HashEmbedder:
    """Words hashed into 384 dimensions (crc32: the same vectors in every process)."""

    name = "hash"
    dimension = 384
    max_tokens = 256

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                h = zlib.crc32(word.encode())
                out[i, h % self.dimension] += 1.0 if (h >> 16) & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [int(len(t.split()) * 1.3) + 2 for t in texts]


def _child(corpus: Path, index: Path, store: str, embedder: str) -> None:
    """One ingest from scratch (run in a child process, so its peak RSS is its own)."""
    from careerqa.ingest import ingest
    from careerqa.settings import Settings

    model = "bundled:all-MiniLM-L6-v2" if embedder == "model" else "hash"
    settings = Settings(corpus_dir=corpus, index_dir=index, store=store, model=model)
    if embedder == "model":
        from careerqa.embedding import SentenceTransformerEmbedder

        encoder = SentenceTransformerEmbedder.from_settings(settings)
    else:
        encoder = HashEmbedder()  # type: ignore[assignment]
    report = ingest(settings, encoder, progress=False)  # type: ignore[arg-type]
    print(
        json.dumps(
            {
                "documents": len(report.added),
                "chunks": report.chunks_embedded,
                "resumed": report.resumed,
                "seconds": report.seconds,
            }
        )
    )


def _run_child(
    args: list[str], kill_after: float | None = None, memory_limit: int | None = None
) -> tuple[dict, float, float]:
    """(the child's report, its peak RSS and peak anonymous memory in MiB); ({}, ...)
    when it was killed or failed. With `memory_limit` (MiB) the child runs in a memory
    cgroup of that size (cgroup v1, as root)."""
    command = [sys.executable, __file__, "child", *args]
    group = _memory_group(memory_limit) if memory_limit else None
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        preexec_fn=(lambda: (group / "cgroup.procs").write_text(str(os.getpid())))
        if group
        else None,
    )
    anon = [0.0]
    sampler = threading.Thread(target=_sample_anonymous, args=(process.pid, anon), daemon=True)
    sampler.start()
    if kill_after is not None:
        time.sleep(kill_after)
        process.send_signal(signal.SIGKILL)
    _, status, usage = os.wait4(process.pid, 0)
    sampler.join()
    if group:
        group.rmdir()
    output = process.stdout.read().decode() if process.stdout else ""
    rss = usage.ru_maxrss / 1024
    if kill_after is not None or status:
        return {}, rss, anon[0]
    return json.loads(output.strip().splitlines()[-1]), rss, anon[0]


def _sample_anonymous(pid: int, peak: list[float]) -> None:
    """Peak RssAnon of a process, sampled every 50 ms until it exits: the memory it must
    hold. (Peak RSS also counts pages of files it maps or reads that the kernel can
    drop at any time.)"""
    status = Path(f"/proc/{pid}/status")
    while True:
        try:
            text = status.read_text()
        except OSError:
            return
        match = re.search(r"^RssAnon:\s+(\d+) kB", text, re.M)
        if match is None:  # a zombie: exited, not yet reaped
            return
        peak[0] = max(peak[0], int(match.group(1)) / 1024)
        time.sleep(0.05)


def _memory_group(limit_mib: int) -> Path:
    """A memory cgroup (v1) limited to `limit_mib`, for one child."""
    group = Path("/sys/fs/cgroup/memory") / f"careerqa-scale-{os.getpid()}"
    group.mkdir(exist_ok=True)
    (group / "memory.limit_in_bytes").write_text(str(limit_mib << 20))
    return group


def ingest_bench(args: argparse.Namespace) -> None:
    import synthetic

    rows = []
    for articles in args.articles:
        corpus = args.work / f"corpus-{articles}"
        synthetic.write(corpus, articles)
        for store in args.stores:
            index = args.work / f"index-{articles}-{store}-{args.embedder}"
            subprocess.run(["rm", "-rf", str(index)], check=True)
            child = [str(corpus), str(index), store, args.embedder]
            report, rss, anon = _run_child(child, memory_limit=args.memory_limit)
            if not report:
                sys.exit(f"{articles} {store}: the ingest failed (peak RSS {rss:.0f} MiB)")
            rows.append((articles, store, report, rss, anon))
            print(f"{articles} {store}: {report} peak {rss:.0f} MiB", file=sys.stderr, flush=True)
    limit = f", in a {args.memory_limit} MiB memory cgroup" if args.memory_limit else ""
    print(f"ingest from scratch, embedder: {args.embedder}{limit}")
    print(
        "| articles | store | chunks | seconds | chunks/s | peak RSS, MiB | peak anonymous, MiB |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for articles, store, r, rss, anon in rows:
        print(
            f"| {articles:,} | {store} | {r['chunks']:,} | {r['seconds']:.0f} | "
            f"{r['chunks'] / r['seconds']:.0f} | {rss:.0f} | {anon:.0f} |"
        )
    if args.kill_after:
        articles = args.articles[-1]
        corpus = args.work / f"corpus-{articles}"
        index = args.work / f"index-kill-{articles}"
        subprocess.run(["rm", "-rf", str(index)], check=True)
        child = [str(corpus), str(index), args.stores[0], args.embedder]
        _run_child(child, kill_after=args.kill_after)
        report, _, _ = _run_child(child)
        again = report["documents"] - report["resumed"]
        print(
            f"\nkilled (SIGKILL) after {args.kill_after:g} s; the next run took "
            f"{report['resumed']:,} of {report['documents']:,} documents from staging and "
            f"embedded the other {again:,} ({report['chunks']:,} chunks) in "
            f"{report['seconds']:.0f} s"
        )


def _clustered(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    centres = rng.normal(size=(max(1, n // 1000), dim)).astype(np.float32)
    x = centres[rng.integers(0, len(centres), n)] + 0.5 * rng.normal(size=(n, dim)).astype(
        np.float32
    )
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def search_bench(args: argparse.Namespace) -> None:
    from pymilvus import DataType, MilvusClient

    from careerqa.index import VectorIndex, write_index

    rng = np.random.default_rng(0)
    print("| chunks | store | index | build s | query p50 ms | recall@10 |")
    print("| --- | --- | --- | --- | --- | --- |")
    for n in args.chunks:
        vectors = _clustered(n, 384, rng)
        queries = _clustered(200, 384, rng)
        exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
        with tempfile.TemporaryDirectory() as tmp:  # as a build writes and serves it
            np.save(Path(tmp) / "vectors.npy", vectors)
            started = time.perf_counter()
            write_index(Path(tmp) / "vectors.npy", Path(tmp) / "faiss.index")
            embedded = VectorIndex.load(Path(tmp) / "faiss.index")
            built = time.perf_counter() - started
            times, found = _timed_searches(embedded, queries)
            _report(n, "embedded", _described(embedded), built, times, found, exact)
        # The same vectors searched exactly (faiss' flat index), as a baseline in this run.
        started = time.perf_counter()
        flat = VectorIndex.build(vectors, kind="flat")
        built = time.perf_counter() - started
        times, found = _timed_searches(flat, queries)
        _report(n, "embedded, exact", "flat, in memory", built, times, found, exact)
        if "milvus" not in args.stores:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            client = MilvusClient(str(Path(tmp) / "m.db"))
            schema = client.create_schema(auto_id=False)
            schema.add_field("row", DataType.INT64, is_primary=True)
            schema.add_field("dense", DataType.FLOAT_VECTOR, dim=384)
            params = client.prepare_index_params()
            params.add_index("dense", index_type="AUTOINDEX", metric_type="IP")
            client.create_collection("v", schema=schema, index_params=params)
            started = time.perf_counter()
            for lo in range(0, n, 5000):
                batch = vectors[lo : lo + 5000]
                client.insert("v", [{"row": lo + i, "dense": v} for i, v in enumerate(batch)])
            client.flush("v")
            client.load_collection("v")
            built = time.perf_counter() - started
            times, found = [], []
            for q in queries:
                t = time.perf_counter()
                hits = client.search("v", [q.tolist()], anns_field="dense", limit=10)[0]
                times.append(time.perf_counter() - t)
                found.append([h["row"] for h in hits])
            client.close()
            _report(n, "milvus lite", "AUTOINDEX", built, times, found, exact)


def _timed_searches(index: Any, queries: np.ndarray) -> tuple[list[float], list[np.ndarray]]:
    """Each query searched alone: its time, and the ten ids found."""
    times, found = [], []
    for q in queries:
        t = time.perf_counter()
        _, ids = index.search(q.reshape(1, -1), 10)
        times.append(time.perf_counter() - t)
        found.append(ids[0])
    return times, found


def _described(index: Any) -> str:
    """ "ivf, 1,264 lists, 19 probed" or "flat"."""
    if index.kind != "ivf":
        return index.kind
    import faiss

    ivf = faiss.extract_index_ivf(index._index)
    return f"ivf, {ivf.nlist:,} lists, {ivf.nprobe} probed, lists on disk"


def _report(n, store, kind, built, times, found, exact) -> None:  # type: ignore[no-untyped-def]
    recall = statistics.mean(len(set(f) & set(e)) / 10 for f, e in zip(found, exact, strict=True))
    p50 = statistics.median(times) * 1000
    print(f"| {n:,} | {store} | {kind} | {built:.1f} | {p50:.2f} | {recall:.3f} |", flush=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        _child(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4], sys.argv[5])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    ing = sub.add_parser("ingest")
    ing.add_argument("--articles", type=int, nargs="+", default=[1000, 10000])
    ing.add_argument("--stores", nargs="+", default=["embedded", "milvus"])
    ing.add_argument("--embedder", choices=["hash", "model"], default="hash")
    ing.add_argument("--kill-after", type=float, default=None)
    ing.add_argument(
        "--memory-limit", type=int, default=None, help="MiB: run each ingest in a memory cgroup"
    )
    ing.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "careerqa-scale")
    sea = sub.add_parser("search")
    sea.add_argument("--chunks", type=int, nargs="+", default=[100_000, 1_000_000])
    sea.add_argument("--stores", nargs="+", default=["embedded", "milvus"])
    args = parser.parse_args()
    ingest_bench(args) if args.what == "ingest" else search_bench(args)


if __name__ == "__main__":
    main()
