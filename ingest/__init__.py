"""Loading, normalising, chunking and indexing of source articles."""
