"""Run the command-line interface: python -m assistant."""

from assistant.cli import run

run()
