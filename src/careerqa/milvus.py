"""The Milvus store: a build's chunks and sentences as Milvus collections (CAREERQA_STORE=milvus).

Each build gets two collections, `<prefix>_chunks_<build>` (row, doc_id, dense vector,
the chunk's BM25 terms and the sparse vector Milvus' BM25 function makes of them) and
`<prefix>_sentences_<build>` (row, dense vector). They are written before the build's
name goes into CURRENT, so a process that sees the build finds its collections; after
the switch the aliases `<prefix>_chunks` and `<prefix>_sentences` are moved to them
(for anyone querying Milvus directly) and collections of builds older than the
previous one are dropped.

`CAREERQA_MILVUS_URI` is a local file (Milvus Lite, embedded in this process: one
process at a time) or `http://host:19530` (Milvus standalone or a cluster, shared by
any number of processes and hosts). pymilvus is imported only here, and only when
the Milvus store is chosen: `pip install 'careerqa[milvus]'`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import StoreError
from .index import npy_shape, read_rows
from .lexical import terms
from .searching import Candidates
from .settings import Settings
from .store import chunk_from_json

if TYPE_CHECKING:  # pragma: no cover
    from pymilvus import MilvusClient


log = logging.getLogger(__name__)

INSERT_BATCH = 2000
RRF_K = 60  # Milvus' default for RRFRanker
_clients: dict[str, MilvusClient] = {}
_clients_lock = threading.Lock()


def uri_of(settings: Settings) -> str:
    """Where Milvus is: CAREERQA_MILVUS_URI, else a Milvus Lite file in the index folder."""
    return settings.milvus_uri or str(Path(settings.index_dir) / "milvus.db")


def is_lite(uri: str) -> bool:
    """Is this URI a Milvus Lite file (in this process, one process at a time)?"""
    return "://" not in uri


def client(settings: Settings) -> MilvusClient:
    """The process' one client for this Milvus (Milvus Lite allows one per file)."""
    uri = uri_of(settings)
    with _clients_lock:
        found = _clients.get(uri)
        if found is not None:
            return found
        try:
            from pymilvus import MilvusClient
        except ImportError as exc:
            raise StoreError(
                "CAREERQA_STORE=milvus needs pymilvus: pip install 'careerqa[milvus]'"
            ) from exc
        # pymilvus logs a traceback for every refused call (StoreError says it in one
        # line), and Milvus Lite's in-process server one for each call it doesn't serve.
        for name in ("pymilvus", "grpc._server", "milvus_lite"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        if is_lite(uri):
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
        try:
            made = MilvusClient(uri=uri)
        except Exception as exc:  # pymilvus raises its own and grpc's errors
            raise StoreError(
                f"cannot reach Milvus at {uri}: {exc} — is it running? (a Milvus Lite file "
                "is held by one process at a time: use POST /reindex, or a Milvus server)"
            ) from exc
        _clients[uri] = made
        return made


def release_all() -> None:
    """Close every client of this process (tests: each one's Milvus Lite file is freed)."""
    for uri in list(_clients):
        _release(uri)


def release(settings: Settings) -> None:
    """Close this process' client (a Milvus Lite file is then free for another process)."""
    _release(uri_of(settings))


def _release(uri: str) -> None:
    with _clients_lock:
        found = _clients.pop(uri, None)
    if found is None:
        return
    found.close()
    if is_lite(uri):
        from milvus_lite import server_manager_instance

        server_manager_instance.release_server(uri)


def names(prefix: str, build_id: str) -> tuple[str, str]:
    """The chunk and sentence collections of a build (Milvus names: letters, digits, _)."""
    safe = build_id.replace("-", "_")
    return f"{prefix}_chunks_{safe}", f"{prefix}_sentences_{safe}"


class MilvusStore:
    """Writing builds into Milvus and switching the aliases to the live one."""

    def __init__(self, settings: Settings):
        self.prefix = settings.milvus_prefix
        self.client = client(settings)

    def has(self, build_id: str) -> bool:
        """Are both collections of this build there?"""
        return all(self._call(self.client.has_collection, n) for n in names(self.prefix, build_id))

    def publish(self, build: Path, build_id: str, progress: bool = False) -> None:
        """Write a build's chunks and sentences, read from its folder a block at a time,
        as its two collections (replacing leftovers)."""
        chunks, sentences = names(self.prefix, build_id)
        n_chunks, dimension = npy_shape(build / "vectors.npy")
        n_sentences, _ = npy_shape(build / "sentence_vectors.npy")
        for name in (chunks, sentences):
            if self._call(self.client.has_collection, name):
                self._call(self.client.drop_collection, name)
        self._create(chunks, dimension, lexical=True)
        self._create(sentences, dimension, lexical=False)
        self._insert(chunks, _chunk_rows(build), n_chunks, progress)
        vectors = _each_row(build / "sentence_vectors.npy")
        sentence_rows = ({"row": row, "dense": v.tolist()} for row, v in enumerate(vectors))
        self._insert(sentences, sentence_rows, n_sentences, progress)
        log.info("milvus: build %s written (%d chunks)", build_id, n_chunks)

    def promote(self, build_id: str, keep: set[str]) -> None:
        """Point the aliases at this build; drop collections of builds not in `keep`."""
        live = names(self.prefix, build_id)
        aliases = (f"{self.prefix}_chunks", f"{self.prefix}_sentences")
        for alias, target in zip(aliases, live, strict=True):
            try:
                self.client.alter_alias(collection_name=target, alias=alias)
            except Exception:  # no such alias yet
                self._call(self.client.create_alias, collection_name=target, alias=alias)
        kept = {n for b in keep | {build_id} for n in names(self.prefix, b)}
        for name in self._call(self.client.list_collections):
            ours = name.startswith((f"{self.prefix}_chunks_", f"{self.prefix}_sentences_"))
            if ours and name not in kept:
                self._call(self.client.drop_collection, name)
                log.info("milvus: dropped %s", name)

    def _create(self, name: str, dimension: int, lexical: bool) -> None:
        from pymilvus import DataType, Function, FunctionType

        schema = self.client.create_schema(auto_id=False)
        schema.add_field("row", DataType.INT64, is_primary=True)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dimension)
        params = self.client.prepare_index_params()
        params.add_index("dense", index_type="AUTOINDEX", metric_type="IP")
        if lexical:
            schema.add_field("doc_id", DataType.VARCHAR, max_length=512)
            schema.add_field("terms", DataType.VARCHAR, max_length=65535, enable_analyzer=True)
            schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
            schema.add_function(
                Function(
                    name="bm25",
                    function_type=FunctionType.BM25,
                    input_field_names=["terms"],
                    output_field_names=["sparse"],
                )
            )
            params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        self._call(self.client.create_collection, name, schema=schema)
        # sync=False: pymilvus would otherwise poll for the (empty) index every 0.5 s;
        # the collection is loaded, and its index used, when a searcher opens it.
        self._call(self.client.create_index, name, params, sync=False)

    def _insert(
        self, name: str, rows: Iterator[dict[str, Any]], total: int, progress: bool
    ) -> None:
        from tqdm import tqdm

        with tqdm(total=total, desc=f"milvus {name}", unit="row", disable=not progress) as bar:
            batch: list[dict[str, Any]] = []
            for row in rows:
                batch.append(row)
                if len(batch) >= INSERT_BATCH:
                    self._call(self.client.insert, name, batch)
                    bar.update(len(batch))
                    batch = []
            if batch:
                self._call(self.client.insert, name, batch)
                bar.update(len(batch))
        self._call(self.client.flush, name)

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except Exception as exc:  # pymilvus' and grpc's errors, one message for the user
            raise StoreError(f"Milvus refused {method.__name__}: {exc}") from exc


def _each_row(vectors: Path) -> Iterator[np.ndarray]:
    """A vector file's rows one by one, read a block at a time."""
    return (row for block in read_rows(vectors) for row in block)


def _chunk_rows(build: Path) -> Iterator[dict[str, Any]]:
    """The chunk collection's rows: the chunk table and the chunk vectors, side by side."""
    vectors = _each_row(build / "vectors.npy")
    with (build / "chunks.jsonl").open(encoding="utf-8") as table:
        for row, (line, vector) in enumerate(zip(table, vectors, strict=True)):
            chunk = chunk_from_json(json.loads(line)).chunk
            yield {
                "row": row,
                "doc_id": chunk.doc_id,
                "terms": " ".join(terms(chunk.embed_text)),
                "dense": vector.tolist(),
            }


class MilvusSearcher:
    """A build's searches, run in Milvus (this process holds no search index)."""

    def __init__(self, settings: Settings, build_id: str):
        self.store = MilvusStore(settings)
        if not self.store.has(build_id):
            raise StoreError(
                f"Milvus at {uri_of(settings)} has no collections for build {build_id} — "
                "run `careerqa ingest` with CAREERQA_STORE=milvus"
            )
        self.chunks, self.sentences = names(settings.milvus_prefix, build_id)
        for name in (self.chunks, self.sentences):
            self.store._call(self.store.client.load_collection, name)
        self.fusion = settings.milvus_fusion

    def candidates(self, vector: np.ndarray, words: list[str], depth: int) -> Candidates:
        if self.fusion == "rrf":
            return self._hybrid(vector, words, depth)
        dense = self._search(self.chunks, [vector.tolist()], "dense", "IP", depth)
        near = self._search(self.sentences, [vector.tolist()], "dense", "IP", 2 * depth)
        lexical = self._search(self.chunks, [" ".join(words)], "sparse", "BM25", depth)
        return Candidates(
            [h["row"] for h in dense],
            [h["row"] for h in near],
            # Milvus Lite gives BM25 as a negative distance, Milvus the score itself.
            {h["row"]: abs(float(h["distance"])) for h in lexical if h["distance"]},
        )

    def _hybrid(self, vector: np.ndarray, words: list[str], depth: int) -> Candidates:
        """Dense and BM25 requests fused by Milvus' RRF ranker, in the engine."""
        from pymilvus import AnnSearchRequest, RRFRanker

        requests = [
            AnnSearchRequest([vector.tolist()], "dense", {"metric_type": "IP"}, limit=depth)
        ]
        if words:  # a question of stop words only has no BM25 side
            requests.append(
                AnnSearchRequest([" ".join(words)], "sparse", {"metric_type": "BM25"}, limit=depth)
            )
        client = self.store.client
        found = self.store._call(
            client.hybrid_search, self.chunks, requests, RRFRanker(RRF_K), limit=depth
        )
        rows = {int(h["row"]): float(h["distance"]) for h in found[0]}
        return Candidates(list(rows), [], {}, fused=rows)

    def _search(
        self, collection: str, data: list[Any], field: str, metric: str, limit: int
    ) -> list[dict[str, Any]]:
        if metric == "BM25" and not data[0]:
            return []
        found = self.store._call(
            self.store.client.search,
            collection,
            data,
            anns_field=field,
            limit=limit,
            search_params={"metric_type": metric},
        )
        return [{"row": int(h["row"]), "distance": h["distance"]} for h in found[0]]
