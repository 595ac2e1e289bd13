"""Cited answers from a knowledge folder of articles (Chinese and English questions)."""

__version__ = "0.1.0"
