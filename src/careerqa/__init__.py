"""careerqa: citation-first answers to career questions from a folder of articles."""

__version__ = "0.1.0"
