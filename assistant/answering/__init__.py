"""Answering: a question understood, its passages retrieved, an answer chosen and checked.

question (clean, kinds, follow-ups) → retrieval (dense + BM25, fused) → answer (the extractive
answerer; overview questions in overview; the decision in decision/, the short answer in
short_answer) → citations (every draft checked once); translate reaches Chinese articles from
English questions, archive dates the articles; pipeline runs them in that order.
"""
