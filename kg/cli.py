"""The ``kg`` command: a thin layer over the Python API (``kg.api``).

Each subcommand parses its options, calls one public function, and prints the result as text or,
with ``--json``, as JSON. Errors the user can cause end in one clean line and exit code 2;
Ctrl-C exits with 130 and leaves the saved graph as it was.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

from . import __version__, api, render
from .config import BuildConfig, GenerateConfig, RetrieveConfig, load_toml
from .errors import ConfigError, KgError

EXPORT_FORMATS = ["turtle", "nt", "jsonld", "xml", "graphml", "json"]


def _emit(args: argparse.Namespace, data: Any, text: Callable[[], str]) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    else:
        print(text())


def _build_config(args: argparse.Namespace) -> BuildConfig:
    data = load_toml(args.config) if args.config else {}
    where = str(args.config or "settings")
    try:
        config = BuildConfig.from_dict(data, where=where)
    except ConfigError as exc:  # a value check inside a section names the setting, not the file
        if str(exc).startswith(where):
            raise
        raise ConfigError(f"{where}: {exc}") from None
    if args.chunk_size is not None or args.chunk_overlap is not None:
        config = config.with_(ingest=config.ingest.from_dict({
            **config.ingest.to_dict(),
            **({"chunk_size": args.chunk_size} if args.chunk_size is not None else {}),
            **({"chunk_overlap": args.chunk_overlap} if args.chunk_overlap is not None else {}),
        }))
    if args.workers is not None:
        config = config.with_(extract=config.extract.with_(workers=args.workers))
    return config


def cmd_build(args: argparse.Namespace) -> int:
    report = api.build(args.sources, args.out, _build_config(args), strict=args.strict, progress=not args.no_progress)
    skipped = api.skipped_summary(report.skipped)
    _emit(args, asdict(report), lambda: render.build_report(report, skipped))
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    info = api.open(args.dir).stats()
    _emit(args, info, lambda: render.stats(info))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .export import export_graph

    kb = api.open(args.dir)
    export_graph(kb.graph, args.output, args.format)
    _emit(args, {"output": str(args.output), "format": args.format}, lambda: f"wrote {args.format} to {args.output}")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    doc = api.remove(args.dir, args.doc)
    _emit(args, {"removed": doc.id, "source": doc.source}, lambda: f"removed {doc.id} ({doc.source}) and the facts only it supported")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    view = api.open(args.dir).entity(args.entity)
    _emit(args, asdict(view), lambda: render.entity(view, args.limit))
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    kb = api.open(args.dir, retrieve_config=RetrieveConfig(mode=args.mode, k=args.k))
    if args.retrieve_only:
        r = kb.retrieve(args.question, k=args.k, mode=args.mode)
        _emit(args, r.to_dict(), lambda: render.retrieval(r))
        return 0
    config = GenerateConfig(generator=args.generator, model=args.model, base_url=args.base_url,
                            max_new_tokens=args.max_new_tokens)
    a = kb.ask(args.question, mode=args.mode, k=args.k, config=config)
    _emit(args, a.to_dict(), lambda: render.answer(a))
    return 0


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
    b.add_argument("sources", nargs="+", help="files, folders (recursive) or glob patterns: .txt .md .html .pdf .jsonl .json")
    b.add_argument("--out", required=True, type=Path, help="graph directory to create or update")
    b.add_argument("--config", type=Path, help="TOML file of build settings ([ingest], [extract], [resolve], [index])")
    b.add_argument("--chunk-size", type=int, help="passage size in characters (default 1200)")
    b.add_argument("--chunk-overlap", type=int, help="characters of overlap between passages (default 200)")
    b.add_argument("--workers", type=int, help="extraction processes (default 0: one per core, fewer for small inputs)")
    b.add_argument("--strict", action="store_true", help="fail on the first bad input instead of skipping it")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")

    s = command("stats", cmd_stats, "show a graph's size and the settings it was built with")
    s.add_argument("dir", type=Path, help="graph directory")

    e = command("export", cmd_export, "export a graph to RDF, GraphML or node-link JSON")
    e.add_argument("dir", type=Path, help="graph directory")
    e.add_argument("--format", required=True, choices=EXPORT_FORMATS, help="output format")
    e.add_argument("-o", "--output", required=True, type=Path, help="file to write")

    r = command("remove", cmd_remove, "remove a document and every fact only it supported")
    r.add_argument("dir", type=Path, help="graph directory")
    r.add_argument("doc", help="document id, external id (JSONL id) or source path")

    sh = command("show", cmd_show, "show an entity, its aliases and its relations with supporting sentences")
    sh.add_argument("dir", type=Path, help="graph directory")
    sh.add_argument("entity", help="entity name, alias or id")
    sh.add_argument("--limit", type=int, default=20, help="relations to print (default 20)")

    a = command("ask", cmd_ask, "answer a question from the graph's documents, with sources")
    a.add_argument("dir", type=Path, help="graph directory")
    a.add_argument("question", help="the question, in quotes")
    a.add_argument("--mode", default="hybrid", choices=["hybrid", "graph", "dense", "bm25"], help="retrieval mode (default hybrid)")
    a.add_argument("-k", "--k", type=int, default=5, help="passages to retrieve (default 5)")
    a.add_argument("--generator", default="extractive", choices=["extractive", "transformers", "openai"],
                   help="answer generator (default extractive: no LLM)")
    a.add_argument("--model", default="", help="transformers model folder, or model name on the OpenAI-compatible server")
    a.add_argument("--base-url", default="", help="OpenAI-compatible server URL (default $KG_OPENAI_BASE_URL)")
    a.add_argument("--max-new-tokens", type=int, default=48, help="generation length limit")
    a.add_argument("--retrieve-only", action="store_true", help="show the ranked evidence only, no answer")

    from .eval import cli as eval_cli

    eval_cli.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except KgError as exc:
        print(f"kg {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"kg {args.command}: interrupted; saved graphs are unchanged", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
