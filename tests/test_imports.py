"""Importing the packages must stay light: no torch, no sentence-transformers, no gradio."""

import subprocess
import sys


def test_import_does_not_load_heavy_modules():
    code = (
        "import sys; import assistant, assistant.cli, assistant.app, assistant.web.ui, ingest, "
        "ingest.pipeline, eval; "
        "heavy = [m for m in ('torch', 'sentence_transformers', 'gradio', 'chromadb') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
