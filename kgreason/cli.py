"""The ``kg`` command: a thin layer over the Python API (``kgreason.api``).

Each subcommand parses its options, calls one public function, and prints the result as text or,
with ``--json``, as JSON. Errors the user can cause end in one clean line and exit code 2;
Ctrl-C exits with 130 and leaves the saved graph as it was.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import kgreason
from kg import __version__, registry
from kg.config import RETRIEVAL_MODES, IngestConfig, Settings, load_settings
from kg.errors import KgError
from kg.export import FORMATS
from kg.model import VERDICTS

from . import render
from .distributed import ENGINES
from .tune.reader import READER_STEPS, READER_VALIDATION




def _emit(args: argparse.Namespace, data: Any, text: Callable[[], str]) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    else:
        print(render.terminal_safe(text()))  # document text must not drive the terminal


def _settings(args: argparse.Namespace) -> Settings:
    """The settings file (``--config``, through the one loader) with command-line options on top."""
    settings = load_settings(args.config)
    if getattr(args, "chunk_size", None) is not None or getattr(args, "chunk_overlap", None) is not None:
        ingest = settings.ingest.to_dict()
        ingest.update({k: v for k, v in (("chunk_size", args.chunk_size), ("chunk_overlap", args.chunk_overlap))
                       if v is not None})
        settings = settings.with_(ingest=IngestConfig.from_dict(ingest, "ingest"))
    if getattr(args, "workers", None) is not None:
        settings = settings.with_(extract=settings.extract.with_(workers=args.workers))
    return settings


def cmd_build(args: argparse.Namespace) -> int:
    report = kgreason.build(args.sources, args.out, _settings(args), strict=args.strict, progress=not args.no_progress,
                            rebuild=args.rebuild, engine=args.engine, ray_address=args.ray_address)
    skipped = kgreason.skipped_summary(report.skipped)
    _emit(args, asdict(report), lambda: render.build_report(report, skipped))
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    info = kgreason.open(args.dir).stats()
    _emit(args, info, lambda: render.stats(info))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from kg.export import export_graph  # noqa: F811

    kb = kgreason.open(args.dir)
    export_graph(kb.graph, args.output, args.format)
    _emit(args, {"output": str(args.output), "format": args.format}, lambda: f"wrote {args.format} to {args.output}")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    doc = kgreason.remove(args.dir, args.doc)
    _emit(args, {"removed": doc.id, "source": doc.source}, lambda: f"removed {doc.id} ({doc.source}) and the facts only it supported")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    view = kgreason.open(args.dir).entity(args.entity)
    _emit(args, asdict(view), lambda: render.entity(view, args.limit))
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    kb = kgreason.open(args.dir)
    query = load_settings(args.config) if args.config else None  # else: the defaults saved with the graph
    retrieve = query.retrieve if query else kb.retrieve_config
    retrieve = retrieve.with_(**{k: v for k, v in (("mode", args.mode), ("k", args.k)) if v is not None})
    generate = query.generate if query else kb.generate_config
    generate = generate.with_(**{k: v for k, v in (("generator", args.generator), ("model", args.model),
                                                     ("base_url", args.base_url), ("max_new_tokens", args.max_new_tokens))
                                 if v is not None})
    kb = kb.with_settings(retrieve, generate)  # keeps the active kg tune version's models
    if args.retrieve_only:
        r = kb.retrieve(args.question)
        _emit(args, r.to_dict(), lambda: render.retrieval(r))
        return 0
    a = kb.ask(args.question)
    _emit(args, a.to_dict(), lambda: render.answer(a))
    if args.rate:
        _rate(kb, a)
    return 0


def cmd_feedback(args: argparse.Namespace) -> int:
    kb = kgreason.open(args.dir)
    if args.import_file or args.generate is not None:  # either or both: labels first, then generated questions
        from .labels import add_generated_questions, import_labels

        done, lines = {}, []
        if args.import_file:
            done["imported"] = import_labels(kb, args.import_file)
            lines.append(f"imported {done['imported']} new labelled question(s) from {args.import_file}")
        if args.generate is not None:
            done["generated"] = add_generated_questions(kb, args.generate or None)
            lines.append(f"added {done['generated']} new question(s) generated from the graph's facts")
        _emit(args, {"added": sum(done.values()), **done}, lambda: "\n".join(lines))
        if args.generate is not None and args.rephrase:
            from .labels import add_rephrased_questions
            from .progress import stage

            with stage("rephrase", args.generate or None, "question", not args.no_progress) as step:
                counts = add_rephrased_questions(kb, _chat(args.rephrase_model, args.rephrase_url), args.generate or None, step)
            _emit(args, dict(counts), lambda: render.rephrased(counts))
    elif args.judge_file:
        from .labels import judge_questions, read_question_lines
        from .progress import stage

        questions = read_question_lines(args.judge_file)
        with stage("judge", len(questions), "question", not args.no_progress) as step:
            counts = judge_questions(kb, questions, _judge(args), step)
        _emit(args, counts, lambda: render.judged(counts, args.judge_file))
    elif args.export_file:
        n = kb.feedback_store.export_jsonl(args.export_file)
        _emit(args, {"exported": n}, lambda: f"wrote {n} feedback record(s) to {args.export_file}")
    elif args.verdict:
        if not args.question:
            raise KgError("kg feedback: --verdict needs --question (and --answer: the answer given)")
        answer = kgreason.Answer(args.question, args.answer or "", bool(args.answer), (), (), (), "", "cli")
        f = kb.feedback(answer, args.verdict, correction=args.correction or "", relevant=args.relevant or (),
                        irrelevant=args.irrelevant or ())
        _emit(args, {"id": f.id}, lambda: f"recorded {f.verdict} feedback {f.id}")
    else:
        records = kb.feedback_store.all() if kb.feedback_store.path.is_file() else []
        _emit(args, [_feedback_dict(f) for f in records[-args.limit:]], lambda: render.feedback(records[-args.limit:]))
    return 0


def _judge(args: argparse.Namespace):
    """The judge of ``kg feedback --judge``: llama.cpp in process, or an OpenAI-compatible server."""
    from reason.judge import LLMJudge

    return LLMJudge(_chat(args.judge_model, args.judge_url))


def _chat(model: str, url: str | None):
    """A chat model: ``model`` on the OpenAI-compatible server at ``url``, else llama.cpp in process."""
    if url:
        from kg.openai_chat import OpenAIChat

        return OpenAIChat(model, url)
    from kg.llamacpp import LlamaCppChat

    return LlamaCppChat(model)


def cmd_tune(args: argparse.Namespace) -> int:
    from .tune import versions

    if args.list:
        rows, active = versions.list_versions(args.dir), versions.active_version(args.dir)
        _emit(args, {"active": active, "versions": rows}, lambda: render.versions(rows, active))
        return 0
    if args.activate is not None or args.rollback:
        number = versions.rollback(args.dir) if args.rollback else args.activate
        if not args.rollback:
            versions.activate(args.dir, number)
        _emit(args, {"active": number}, lambda: f"active model version: {number or 'base models'}")
        return 0
    from .tune.runner import tune

    report = tune(args.dir, steps=args.steps, batch_size=args.batch_size, seed=args.seed,
                  reranker_steps=args.reranker_steps, reader_steps=args.reader_steps,
                  reader_validation=args.reader_validation, closed_book_steps=args.closed_book_steps,
                  rank=not args.no_ranker, evidence_gate=not args.no_gate, trust_generated=args.trust_generated, progress=not args.no_progress)
    _emit(args, asdict(report), lambda: render.tune_report(report))
    return 0


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def cmd_publish(args: argparse.Namespace) -> int:
    from kg.pgstore import safe_dsn

    entry = kgreason.publish(args.dir, args.database, args.name)
    where = f"{safe_dsn(args.database)}#{entry.name}"
    _emit(args, {**asdict(entry), "location": where},
          lambda: f"published {args.dir} as {entry.name!r} version {entry.version} (schema {entry.schema}); "
                  f"open it with: kg ask '{where}' \"QUESTION\"")
    return 0


def cmd_postgres(args: argparse.Namespace) -> int:
    from . import pgserver

    if args.action == "start":
        uri = pgserver.start(args.folder)
        _emit(args, {"running": True, "uri": uri},
              lambda: f"PostgreSQL with pgvector runs in {args.folder} (this machine only, until "
                      f"`kg postgres stop {args.folder}`)\n{uri}\npublish to it with: kg publish GRAPH_DIR '{uri}'")
    elif args.action == "status":
        uri = pgserver.running(args.folder)
        _emit(args, {"running": uri is not None, "uri": uri},
              lambda: uri or f"no PostgreSQL runs in {args.folder}")
    else:
        stopped = pgserver.stop(args.folder)
        _emit(args, {"running": False, "stopped": stopped},
              lambda: f"stopped the PostgreSQL in {args.folder}; its data stays there" if stopped
              else f"no PostgreSQL was running in {args.folder}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    if args.host not in LOOPBACK and not args.token:
        raise KgError(f"kg serve: listening on {args.host} lets other machines in; give --token (every API call must "
                      "carry it) or serve on 127.0.0.1")
    import uvicorn

    from .serve.app import create_app

    app = create_app(args.dir, token=args.token, reports_dir=args.reports)
    where = f"http://{args.host}:{args.port}/" + (f"?token={args.token}" if args.token else "")
    print(f"kg serve: {args.dir} on {where} (Ctrl-C stops)", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def _rate(kb, answer) -> None:
    """``kg ask --rate``: ask the person at the terminal for a verdict and store it."""
    choice = input("Was this answer right? [g]ood, [b]ad, [p]artly, [s]kip: ").strip().lower()[:1]
    verdict = {"g": "good", "b": "bad", "p": "partly"}.get(choice)
    if verdict is None:
        return
    correction = input("The right answer (Enter to skip): ").strip() if verdict != "good" else ""
    f = kb.feedback(answer, verdict, correction=correction)
    print(f"recorded {verdict} feedback {f.id}", file=sys.stderr)


def _feedback_dict(f) -> dict:
    from feedback.store import to_dict

    return to_dict(f)


LOCATION_HELP = "graph directory, or postgresql://...#NAME for a graph published with kg publish"


def _location(text: str) -> str | Path:
    """A graph directory as a path; a PostgreSQL location as it is (a path would fold its '//')."""
    from kg.pgstore import is_location

    return text if is_location(text) else Path(text)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kg", description="Build knowledge graphs from documents and ask them multi-hop questions, offline.")
    p.add_argument("--version", action="version", version=f"kgreason {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, func, help: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help, description=help)
        sp.add_argument("--json", action="store_true", help="print the result as JSON for scripts")
        sp.set_defaults(func=func)
        return sp

    b = command("build", cmd_build, "build or update a graph from files, folders and globs")
    b.add_argument("sources", nargs="+", help="files, folders (recursive) or glob patterns: .txt .md .rst .docx .html .pdf .jsonl .json")
    b.add_argument("--out", required=True, type=Path, help="graph directory to create or update")
    b.add_argument("--config", type=Path, help="settings TOML: [ingest] [extract] [resolve] [index], and [retrieve] "
                   "[generate] saved as the graph's query defaults")
    b.add_argument("--chunk-size", type=int, help="passage size in characters (default 1200)")
    b.add_argument("--chunk-overlap", type=int, help="characters of overlap between passages (default 200)")
    b.add_argument("--workers", type=int, help="extraction processes (default 0: one per core, fewer for small inputs)")
    b.add_argument("--strict", action="store_true", help="fail on the first bad input instead of skipping it")
    b.add_argument("--rebuild", action="store_true",
                   help="build afresh, ignoring the saved graph (also one that is damaged or of another format version)")
    b.add_argument("--engine", choices=ENGINES, default="local",
                   help="local (default): processes on this machine; ray: extraction and embedding on Ray actors "
                        "(a local Ray on 127.0.0.1, or --ray-address); the same graph either way")
    b.add_argument("--ray-address", help="with --engine ray: join this Ray cluster (e.g. ray://head:10001) instead")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")

    s = command("stats", cmd_stats, "show a graph's size and the settings it was built with")
    s.add_argument("dir", type=_location, help=LOCATION_HELP)

    e = command("export", cmd_export, "export a graph to RDF, GraphML or node-link JSON")
    e.add_argument("dir", type=_location, help=LOCATION_HELP)
    e.add_argument("--format", required=True, choices=FORMATS, help="output format")
    e.add_argument("-o", "--output", required=True, type=Path, help="file to write")

    r = command("remove", cmd_remove, "remove a document and every fact only it supported")
    r.add_argument("dir", type=Path, help="graph directory")
    r.add_argument("doc", help="document id, external id (JSONL id) or source path")

    sh = command("show", cmd_show, "show an entity, its aliases and its relations with supporting sentences")
    sh.add_argument("dir", type=_location, help=LOCATION_HELP)
    sh.add_argument("entity", help="entity name, alias or id")
    sh.add_argument("--limit", type=int, default=20, help="relations to print (default 20)")

    a = command("ask", cmd_ask, "answer a question from the graph's documents, with sources")
    a.add_argument("dir", type=_location, help=LOCATION_HELP)
    a.add_argument("question", help="the question, in quotes")
    a.add_argument("--config", type=Path, help="settings TOML whose [retrieve] and [generate] replace the graph's defaults")
    a.add_argument("--mode", choices=RETRIEVAL_MODES, help="retrieval mode (default: retrieve.mode, hybrid)")
    a.add_argument("-k", "--k", type=int, help="passages to retrieve (default: retrieve.k, 5)")
    a.add_argument("--generator", choices=registry.names("generator"),
                   help="answer generator (default: generate.generator, extractive: no LLM)")
    a.add_argument("--model", help="model file or folder of a local generator, or model name on the OpenAI-compatible server")
    a.add_argument("--base-url", help="OpenAI-compatible server URL (default $KG_OPENAI_BASE_URL)")
    a.add_argument("--max-new-tokens", type=int, help="generation length limit (default: generate.max_new_tokens, 48)")
    a.add_argument("--retrieve-only", action="store_true", help="show the ranked evidence only, no answer")
    a.add_argument("--rate", action="store_true", help="then ask whether the answer was right and store the verdict")

    t = command("tune", cmd_tune, "fine-tune the graph's embedder, ranker, evidence gate and reader (and, if asked, a reranker) on its feedback; keep what measures better")
    t.add_argument("dir", type=Path, help="graph directory")
    t.add_argument("--steps", type=int, default=200, help="embedder training batches (default 200; 0: no embedder)")
    t.add_argument("--no-ranker", action="store_true", help="train no learned ranker (hybrid's signals weighed on the feedback)")
    t.add_argument("--no-gate", action="store_true",
                   help="fit no evidence gate (when to answer \"not found\", learnt from people's questions)")
    t.add_argument("--trust-generated", action="store_true",
                   help="with fewer than 10 held-out questions people asked, judge the embedder, reranker and reader "
                        "on generated questions (default: they are not trained; such gains have not held on real ones)")
    t.add_argument("--reranker-steps", type=int, default=0,
                   help="cross-encoder reranker training batches (default 0: none; 200 took 17-33 min here and gained nothing measured)")
    t.add_argument("--reader-steps", type=int, default=READER_STEPS,
                   help=f"LoRA steps of the local reader (default {READER_STEPS}; 0: no reader)")
    t.add_argument("--reader-validation", type=int, default=READER_VALIDATION,
                   help=f"held-out questions both readers answer to decide whether the new one is kept (default {READER_VALIDATION})")
    t.add_argument("--closed-book-steps", type=int, default=0,
                   help="LoRA steps of a closed-book reader (question -> answer, no sources), for kg eval --arms ft "
                        "(default 0: none; kg ask never uses it)")
    t.add_argument("--batch-size", type=int, default=16, help="questions per batch (default 16)")
    t.add_argument("--seed", type=int, default=0, help="random seed: the same data and seed give the same model")
    t.add_argument("--list", action="store_true", help="list the model versions and which is active")
    t.add_argument("--activate", type=int, metavar="N", help="make version N active (0: the base models)")
    t.add_argument("--rollback", action="store_true", help="activate the version the active one was trained from")
    t.add_argument("--no-progress", action="store_true", help="no progress bars")

    s = command("serve", cmd_serve, "a local web page to explore the graph, ask it questions and give feedback")
    s.add_argument("dir", type=_location, help=LOCATION_HELP + " (feedback needs a directory)")
    s.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1: this machine only)")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--token", help="required on every API call; needed to listen beyond loopback")
    s.add_argument("--reports", type=Path, help="folder of kg eval reports to show")

    pb = command("publish", cmd_publish, "publish a graph to PostgreSQL (with pgvector) for several processes to "
                 "serve; a new version is swapped in atomically")
    pb.add_argument("dir", type=Path, help="graph directory")
    pb.add_argument("database", help="PostgreSQL connection string, postgresql://user@host:port/database")
    pb.add_argument("--name", help="name to publish under (default: the directory's name); open it as DATABASE#NAME")

    pg = command("postgres", cmd_postgres, "start, check or stop a local PostgreSQL with pgvector (from the postgres "
                 "extra) to publish graphs to, when you have no database server")
    pg.add_argument("action", choices=("start", "status", "stop"),
                    help="start: create (once) and start it, print its connection string; it runs until stop")
    pg.add_argument("folder", type=Path, help="its data folder (created when new); it listens on a socket there, "
                    "on no network address")

    f = command("feedback", cmd_feedback, "record, import, export or list feedback on answers")
    f.add_argument("dir", type=Path, help="graph directory")
    f.add_argument("--import", dest="import_file", type=Path,
                   help="labelled questions (kg eval format: question, answers, supporting_ids) to add as feedback")
    f.add_argument("--export", dest="export_file", type=Path, help="write every record to this JSONL file")
    f.add_argument("--generate", type=int, nargs="?", const=0, metavar="N",
                   help="add questions generated from the graph's facts (at most N; all without N) as AI feedback")
    f.add_argument("--rephrase", action="store_true",
                   help="with --generate: also have an LLM rephrase the generated questions naturally (kept when they "
                        "still name the question's entities and do not give the answer)")
    f.add_argument("--rephrase-model", default="qwen2.5-1.5b",
                   help="rephrasing model: packaged (qwen2.5-0.5b, qwen2.5-1.5b), .gguf path, or a model on --rephrase-url")
    f.add_argument("--rephrase-url", help="rephrase on this OpenAI-compatible server instead of in process")
    f.add_argument("--judge", dest="judge_file", type=Path, metavar="FILE",
                   help="ask these questions (one a line, or JSONL with 'question'), have a judge model grade "
                        "each answer, store the verdicts as AI feedback")
    f.add_argument("--judge-model", default="qwen2.5-1.5b",
                   help="judge: packaged model (qwen2.5-0.5b, qwen2.5-1.5b), .gguf path, or a model on --judge-url")
    f.add_argument("--judge-url", help="judge on this OpenAI-compatible server instead of in process")
    f.add_argument("--no-progress", action="store_true", help="no progress bar")
    f.add_argument("--question", help="the question that was asked")
    f.add_argument("--answer", help="the answer that was given")
    f.add_argument("--verdict", choices=VERDICTS, help="what the answer was")
    f.add_argument("--correction", help="the right answer, when the given one was wrong")
    f.add_argument("--relevant", nargs="+", help="passage ids that answer the question")
    f.add_argument("--irrelevant", nargs="+", help="passage ids that do not")
    f.add_argument("--limit", type=int, default=20, help="records to list (default 20, newest)")

    from .eval import cli as eval_cli

    eval_cli.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except KgError as exc:
        print(render.terminal_safe(f"kg {args.command}: error: {exc}"), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"kg {args.command}: interrupted; saved graphs are unchanged", file=sys.stderr)
        return 130
    except BrokenPipeError:
        if not stdout_closed():  # another pipe broke (a worker's, a server's): a failure, not `| head`
            raise
        # the reader of our output went away (`kg ask ... | head`): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 0


def stdout_closed() -> bool:
    """Whether standard output is a pipe whose reader has gone (poll reports an error on its write end).
    Only then may ``main`` silence standard output: a test or a program calling ``main`` in process
    would otherwise lose its own output for good, over a pipe that was never stdout."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLERR)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no fileno (replaced stdout), or no poll on this system
        return False


if __name__ == "__main__":
    sys.exit(main())
