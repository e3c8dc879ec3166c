"""Chunking: sentence-aware, under the model's limit, exact offsets, stable ids."""

from pathlib import Path

from careerqa.chunking import ChunkSettings, chunk_document, split_sentences
from careerqa.cleaning import clean
from careerqa.corpus import Document, load_corpus

REPO_CORPUS = Path(__file__).parent.parent / "corpus"


def test_sentence_split_respects_abbreviations():
    text = "Use tools (e.g. Spark) daily. Dr. Smith has a Ph. D. in AI. Pay is $70,000. Done!"
    spans = split_sentences(text, 0, len(text))
    assert [text[a:b] for a, b in spans] == [
        "Use tools (e.g. Spark) daily.",
        "Dr. Smith has a Ph. D. in AI.",
        "Pay is $70,000.",
        "Done!",
    ]


def test_chunks_point_at_exact_text_and_carry_context(corpus_dir, fake):
    for doc in load_corpus(corpus_dir).documents:
        cleaned = clean(doc)
        for chunk in chunk_document(cleaned, ChunkSettings(64, 1), fake.count_tokens):
            assert cleaned.text[chunk.start : chunk.end] == chunk.text
            assert chunk.doc_id == doc.doc_id
            for a, b in chunk.sentences:
                assert chunk.start <= a < b <= chunk.end


def test_neighbours_overlap_by_one_sentence(fake):
    text = " ".join(f"Sentence number {i} talks about data pipelines and pay." for i in range(30))
    cleaned = clean(Document("d", "T", "d.txt", "Heading Here\n" + text, "h"))
    chunks = chunk_document(cleaned, ChunkSettings(60, 1), fake.count_tokens)
    assert len(chunks) > 3
    for left, right in zip(chunks, chunks[1:], strict=False):
        assert left.sentences[-1] == right.sentences[0]
        assert right.heading == "Heading Here"


def test_long_sentence_is_split_not_truncated(fake):
    words = " ".join(f"word{i}" for i in range(400)) + "."
    cleaned = clean(Document("d", "T", "d.txt", words, "h"))
    chunks = chunk_document(cleaned, ChunkSettings(64, 1), fake.count_tokens)
    assert len(chunks) > 1
    assert all(fake.count_tokens([c.embed_text])[0] <= 64 for c in chunks)
    covered = " ".join(c.text for c in chunks)
    assert "word0" in covered and "word399." in covered


def test_ids_are_stable_and_depend_on_settings(corpus_dir, fake):
    doc = load_corpus(corpus_dir).documents[0]
    first = [
        c.chunk_id for c in chunk_document(clean(doc), ChunkSettings(64, 1), fake.count_tokens)
    ]
    again = [
        c.chunk_id for c in chunk_document(clean(doc), ChunkSettings(64, 1), fake.count_tokens)
    ]
    other = [
        c.chunk_id for c in chunk_document(clean(doc), ChunkSettings(48, 1), fake.count_tokens)
    ]
    assert first == again
    assert len(set(first)) == len(first)
    assert set(first) != set(other)


def test_no_chunk_exceeds_the_real_model_limit(real_embedder):
    """The shipped corpus, the real tokenizer, the default chunk size."""
    limit = real_embedder.max_tokens
    settings = ChunkSettings(160, 1)
    for doc in load_corpus(REPO_CORPUS).documents:
        for chunk in chunk_document(clean(doc), settings, real_embedder.count_tokens):
            assert real_embedder.count_tokens([chunk.embed_text])[0] <= min(limit, 160)
