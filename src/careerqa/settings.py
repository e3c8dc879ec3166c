"""One Settings object, from flags, CAREERQA_ environment variables and .env."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL = "bundled:all-MiniLM-L6-v2"


class Settings(BaseSettings):
    """Everything careerqa can be told; built at the edge and passed in."""

    model_config = SettingsConfigDict(env_prefix="CAREERQA_", env_file=".env", extra="ignore")

    corpus_dir: Path = Field(
        Path("corpus"),
        description="Folder of source articles (.txt, .md, .html, .htm, .pdf, .docx).",
    )
    index_dir: Path = Field(Path("index"), description="Folder where the built index lives.")
    store: Literal["embedded", "milvus"] = Field(
        "embedded",
        description="Where chunks and sentences are searched: embedded (FAISS and BM25 in "
        "this process) or milvus (collections in Milvus; pip install 'careerqa[milvus]').",
    )
    milvus_uri: str | None = Field(
        None,
        description="Milvus for CAREERQA_STORE=milvus: a local file (Milvus Lite, one process) "
        "or http://host:19530 (Milvus standalone or cluster); unset: index/milvus.db.",
    )
    milvus_prefix: str = Field(
        "careerqa",
        pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$",
        description="Prefix of the Milvus collections and aliases (one per deployment).",
    )
    milvus_fusion: Literal["careerqa", "rrf"] = Field(
        "careerqa",
        description="How Milvus' dense and BM25 results are ranked: careerqa (the embedded "
        "store's score fusion, same passages) or rrf (Milvus' RRF ranker in the engine).",
    )
    model: str = Field(
        DEFAULT_MODEL,
        description="Embedding model: the bundled all-MiniLM-L6-v2, or a sentence-transformers "
        "model name or path.",
    )
    device: str = Field("cpu", description="Torch device for the embedding model.")
    backend: Literal["auto", "onnx", "torch"] = Field(
        "auto",
        description="Encoder runtime: onnx (faster on CPU, same vectors), torch, or auto "
        "(onnx when it loads, else torch).",
    )
    cache_dir: Path = Field(
        Path.home() / ".cache" / "careerqa",
        description="Where the ONNX export of a local model is kept.",
    )
    batch_size: int = Field(32, ge=1, le=1024, description="Texts embedded per batch.")

    question_batch: int = Field(
        32, ge=1, le=256, description="Most questions the server embeds in one model call."
    )

    chunk_tokens: int = Field(160, ge=32, le=512, description="Largest chunk, in word pieces.")
    chunk_overlap: int = Field(1, ge=0, le=5, description="Sentences shared by neighbour chunks.")

    top_k: int = Field(5, ge=1, le=20, description="Passages retrieved per question.")
    candidates: int = Field(30, ge=5, le=500, description="Hits taken from each retriever.")
    lexical_weight: float = Field(
        0.5,
        ge=0.0,
        le=5.0,
        description="Weight of the BM25 score (relative to the best chunk's) added to the "
        "dense similarity when ranking passages.",
    )
    adapt_questions: bool = Field(
        True,
        description="At ingest, adapt the question encoder to the corpus, its headings and "
        "item labels taken as questions about the text under them (README, 'Adapting to "
        "the corpus').",
    )
    abstain_threshold: float = Field(
        0.32,
        description="Least evidence score to answer; below it the answer says the articles "
        "don't cover the question (see README, 'Abstention').",
    )
    max_answer_sentences: int = Field(3, ge=1, le=4, description="Sentences in an answer.")

    max_connections: int = Field(
        1000,
        ge=1,
        description="Most open connections the server keeps; more are refused with 503 "
        "(lowered to fit the process' file descriptor limit).",
    )
    request_timeout: float = Field(
        20.0, gt=0, description="Seconds a request's headers and body may take to arrive."
    )

    llm_url: str | None = Field(
        None,
        description="Base URL of an OpenAI-compatible API (e.g. http://127.0.0.1:8080/v1) for "
        "generated answers; unset: extractive answers.",
    )
    llm_model: str = Field("default", description="Model name sent to that API.")
    llm_api_key: str | None = Field(None, description="API key for that API, if it needs one.")
    llm_timeout: float = Field(
        30.0,
        gt=0,
        le=600,
        description="Seconds a generated answer may take before the "
        "extractive answer is given instead.",
    )
    api_key: str | None = Field(
        None,
        description="Bearer token required to ask (/ask, /ask/stream, /v1/*); unset: open.",
    )

    admin_token: str | None = Field(
        None,
        description="Bearer token for POST /reindex, POST /documents and GET /feedback/export.",
    )
    fetch_allow: str = Field(
        "",
        description="Comma-separated hosts and networks (e.g. `intranet.example,10.1.0.0/16`) "
        "POST /documents may fetch although they are loopback, private or link-local.",
    )
    fetch_timeout: float = Field(
        20.0, gt=0, le=600, description="Seconds a page fetch for `add` may take in all."
    )

    data_dir: Path = Field(
        Path("data"), description="Folder for what careerqa keeps: the feedback database."
    )
    feedback_per_minute: int = Field(
        10, ge=1, le=10_000, description="Most feedback posts a client may make in a minute."
    )
