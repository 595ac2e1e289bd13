"""Evaluation of the assistant: dataset, Chinese-aware matching, metrics, runner, report."""
