"""Ingest at scale, per store: chunks per second, peak memory, resuming after a kill;
and Milvus Lite's search latency and recall@10 against exact search.

Usage:
  .venv/bin/python bench/scale.py ingest --articles 1000 10000 [--stores embedded milvus]
                                         [--embedder hash|model] [--kill-after 20]
  .venv/bin/python bench/scale.py search --chunks 100000 1000000

`ingest` writes the synthetic corpus (bench/synthetic.py) once per size under
--work, then runs `careerqa`'s ingest from scratch in a child process per size and
store, and reports chunks embedded per second and the child's peak RSS
(`wait4`'s ru_maxrss). With --kill-after S it also kills one ingest with SIGKILL
after S seconds and runs it again: the second run reports how many documents it
took from the staging folder instead of embedding them.

`--embedder model` is the bundled all-MiniLM-L6-v2 (what users run);
`--embedder hash` is a deterministic word-hashing embedder with the model's 384
dimensions and none of its cost, which isolates what the pipeline and the store
cost (cleaning, chunking, writing, indexing) at sizes the model would take hours to
embed on two cores. The table says which one ran.

`search` puts N clustered random unit vectors (384 dimensions) in a Milvus Lite
collection (its AUTOINDEX) and in careerqa's embedded index (flat below 50,000,
IVF from there), and reports the median latency of 200 queries and recall@10
against exact search (numpy).
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
import time
import zlib
from pathlib import Path

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


def _run_child(args: list[str], kill_after: float | None = None) -> tuple[dict, float]:
    """(the child's report, its peak RSS in MiB); ({}, rss) when it was killed."""
    command = [sys.executable, __file__, "child", *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    if kill_after is not None:
        time.sleep(kill_after)
        process.send_signal(signal.SIGKILL)
    _, status, usage = os.wait4(process.pid, 0)
    output = process.stdout.read().decode() if process.stdout else ""
    rss = usage.ru_maxrss / 1024
    if kill_after is not None or status:
        return {}, rss
    return json.loads(output.strip().splitlines()[-1]), rss


def ingest_bench(args: argparse.Namespace) -> None:
    import synthetic

    rows = []
    for articles in args.articles:
        corpus = args.work / f"corpus-{articles}"
        synthetic.write(corpus, articles)
        for store in args.stores:
            index = args.work / f"index-{articles}-{store}-{args.embedder}"
            subprocess.run(["rm", "-rf", str(index)], check=True)
            report, rss = _run_child([str(corpus), str(index), store, args.embedder])
            rows.append((articles, store, report, rss))
            print(f"{articles} {store}: {report} peak {rss:.0f} MiB", file=sys.stderr, flush=True)
    print(f"ingest from scratch, embedder: {args.embedder}")
    print("| articles | store | chunks | seconds | chunks/s | peak RSS, MiB | MiB per 1k chunks |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for articles, store, r, rss in rows:
        print(
            f"| {articles:,} | {store} | {r['chunks']:,} | {r['seconds']:.0f} | "
            f"{r['chunks'] / r['seconds']:.0f} | {rss:.0f} | {rss / r['chunks'] * 1000:.1f} |"
        )
    if args.kill_after:
        articles = args.articles[-1]
        corpus = args.work / f"corpus-{articles}"
        index = args.work / f"index-kill-{articles}"
        subprocess.run(["rm", "-rf", str(index)], check=True)
        child = [str(corpus), str(index), args.stores[0], args.embedder]
        _run_child(child, kill_after=args.kill_after)
        report, _ = _run_child(child)
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

    from careerqa.index import VectorIndex

    rng = np.random.default_rng(0)
    print("| chunks | store | index | build s | query p50 ms | recall@10 |")
    print("| --- | --- | --- | --- | --- | --- |")
    for n in args.chunks:
        vectors = _clustered(n, 384, rng)
        queries = _clustered(200, 384, rng)
        exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
        started = time.perf_counter()
        embedded = VectorIndex.build(vectors)
        built = time.perf_counter() - started
        times, found = [], []
        for q in queries:
            t = time.perf_counter()
            _, ids = embedded.search(q.reshape(1, -1), 10)
            times.append(time.perf_counter() - t)
            found.append(ids[0])
        _report(n, "embedded", embedded.kind, built, times, found, exact)
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
    ing.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "careerqa-scale")
    sea = sub.add_parser("search")
    sea.add_argument("--chunks", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    ingest_bench(args) if args.what == "ingest" else search_bench(args)


if __name__ == "__main__":
    main()
