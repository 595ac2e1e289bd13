"""The Chinese-text layer: every rule about width, sentences, tokens, markers and quantities.

Each rule is written once, here, at the bottom of the project: ingest, the assistant and the eval
runner import it; nothing above re-implements it.
"""
