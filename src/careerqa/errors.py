"""Domain errors: messages say what happened and what to do."""


class CareerQAError(Exception):
    """Base of every error careerqa reports to a user."""


class CorpusError(CareerQAError):
    """The corpus folder is missing or holds nothing usable."""


class IndexMissingError(CareerQAError):
    """No index has been built yet."""


class IndexCorruptError(CareerQAError):
    """The index on disk is unreadable or does not match its manifest."""


class IndexMismatchError(CareerQAError):
    """The index was built with other settings (model, chunking) than the current ones."""


class IndexWriteError(CareerQAError):
    """The index folder cannot be written."""


class IndexBusyError(CareerQAError):
    """Another rebuild holds the index lock."""


class ModelError(CareerQAError):
    """The embedding model could not be loaded."""


class ServerError(CareerQAError):
    """The server cannot start: its address is taken or cannot be used."""


class QuestionError(CareerQAError):
    """A question is empty, too long or otherwise unusable."""


class FeedbackError(CareerQAError):
    """The feedback store cannot be opened, read or written."""


class GenerationError(CareerQAError):
    """A generated answer could not be had: the model is unreachable, slow or unreadable."""


class DocumentError(CareerQAError):
    """A document could not be fetched, converted or added to the corpus."""


class FetchRefused(DocumentError):
    """A URL the server may not fetch: an internal address, or a scheme other than http(s)."""


class StoreError(CareerQAError):
    """The search store (Milvus) is unreachable, refuses a request or lacks a build."""
