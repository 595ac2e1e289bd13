"""Run llama.cpp's OpenAI-compatible server (xllamacpp, prebuilt wheel) until SIGTERM/SIGINT.

    python serve.py --model PATH.gguf --alias gemma3-270m --host 127.0.0.1 --port 8080 \
        --n-ctx 4096 --threads 2 --chat-template gemma-nosystem

The serving itself is the app's (assistant/llm/local.py `serve`); this adds the test model's
chat template.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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

    from assistant.llm.local import serve

    if args.chat_template == "gemma-nosystem":
        template, jinja = GEMMA_NO_SYSTEM, True
    else:
        # With use_jinja a template NAME such as "gemma" would be rendered as literal text:
        # built-in names need use_jinja = False.
        template, jinja = args.chat_template, args.jinja
    serve(Path(args.model), args.host, args.port, args.threads, args.n_ctx, args.alias,
          template, jinja, ready=lambda address: print(f"listening {address}", flush=True))  # fmt: skip
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
