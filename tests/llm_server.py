"""Run llama.cpp's OpenAI-compatible server (xllamacpp, prebuilt wheel) until SIGTERM/SIGINT.

    python serve.py --model PATH.gguf --alias gemma3-270m --host 127.0.0.1 --port 8080 \
        --n-ctx 4096 --threads 2 --chat-template gemma-nosystem

xllamacpp has no CLI of its own: xllamacpp.Server(params) starts llama.cpp's C++ HTTP server in
background threads of this process and returns once the model is loaded and the port listens.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

# Gemma's turn format with system messages left out, as llama-cpp-python's chat_format="gemma"
# does. The template reads a system message's content without printing it: llama.cpp probes
# templates and, when a system message's content is never read, merges it into the first user
# turn instead (that is what its built-in "gemma" template does too).
GEMMA_NO_SYSTEM = (
    "{%- for m in messages -%}"
    "{%- if m['role'] == 'system' -%}{%- set dropped = m['content'] -%}"
    "{%- elif m['role'] == 'user' -%}"
    "{{ '<start_of_turn>user\n' + m['content'] + '<end_of_turn>\n' }}"
    "{%- elif m['role'] == 'assistant' -%}"
    "{{ '<start_of_turn>model\n' + m['content'] + '<end_of_turn>\n' }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}"
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--alias", default="")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0: a free port, printed on stdout")
    ap.add_argument("--n-ctx", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--chat-template",
        default="gemma-nosystem",
        help="gemma-nosystem (system messages dropped, like llama-cpp-python's gemma format), "
        "a llama.cpp built-in name such as gemma (system merged into the first user turn), "
        "or, with --jinja, Jinja source",
    )
    ap.add_argument("--jinja", action="store_true", help="treat --chat-template as Jinja source")
    args = ap.parse_args(argv)

    # Block the stop signals in every thread (the server's threads inherit this mask) and wait
    # for them in the main thread: a stop is then an orderly ~Server() and exit code 0.
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)

    # ggml's CPU threads are OpenMP threads; OpenMP's default busy-wait makes 2 threads on 2 busy
    # cores 10-15x slower (measured). libgomp reads this when xllamacpp loads it, so set it first.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import xllamacpp as xlc

    params = xlc.CommonParams()
    params.model.path = args.model
    if args.alias:
        params.model_alias = {args.alias}  # a set: /v1/models then lists this id
    params.hostnames = [args.host]
    params.port = args.port
    params.n_ctx = args.n_ctx
    params.n_parallel = 1
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.offline = True  # never reach for a model hub
    params.ui = False  # no web UI (the wheel has no UI assets anyway)
    if args.chat_template == "gemma-nosystem":
        params.use_jinja, params.chat_template = True, GEMMA_NO_SYSTEM
    else:
        # With use_jinja (xllamacpp's default) a template NAME such as "gemma" would be
        # rendered as literal text: built-in names need use_jinja = False.
        params.use_jinja = args.jinja
        params.chat_template = args.chat_template

    server = xlc.Server(params)  # returns when the model is loaded and the port listens
    print(f"listening {server.listening_address}", flush=True)
    signum = signal.sigwait(stop_signals)
    print(f"stopping on signal {signum}", flush=True)
    del server  # ~Server(): stops the HTTP server and the main loop, frees the model
    return 0


if __name__ == "__main__":
    sys.exit(main())
