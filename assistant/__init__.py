"""Cited answers about the Qingdao Economic and Technological Development Zone reform."""

__version__ = "0.1.0"
