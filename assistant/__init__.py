"""Cited question answering over articles on the Qingdao Economic and Technological Development Zone."""

__version__ = "0.1.0"
