"""Build time and peak memory against corpus size, local engine against Ray (``kg build --engine ray``).

The corpus is the MuSiQue and 2Wiki bench passages together (12,026 records), its first N records for
each size; a size beyond that is made of copies whose title and text carry a copy number, so every copy
is a new document to extract and embed (the same cost as new text of that length). Each build runs in a
fresh process, alone, with the real spaCy pipeline and embedder; peak memory is the largest sum of the
resident memory of that process and every process under it (Ray's workers and the local engine's
extraction processes included; proportional set size, so pages they share count once), sampled
every 0.5 s. Ray's time includes starting Ray on this machine.

    python benchmarks/build_scale.py --sizes 1000 10000 --json build_scale.json --chart build_scale.png
    python benchmarks/build_scale.py --sizes 1000 10000 --chart cost.png --with big_local.json big_ray.json

``--with`` charts sizes measured in earlier runs (their ``--json`` files, read in order, a later file's
engine replacing an earlier one's at the same size) beside this run's, which replace them at its sizes.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO.parent / "shared" / "bench"
CORPORA = ("musique_combined300", "2wiki_combined164")
BUILD = """
import json, sys, kgreason
report = kgreason.build([sys.argv[1]], sys.argv[2], progress=False, engine=sys.argv[3])
print(json.dumps(report.timings))
"""


def corpus(size: int, folder: Path) -> Path:
    """The first ``size`` bench records as one JSONL file (copies numbered past the bench's end)."""
    records = [json.loads(x) for name in CORPORA
               for x in (BENCH / name / "corpus.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    out = []
    for n in range(size):
        r = dict(records[n % len(records)])
        copy = n // len(records)
        if copy:
            r["id"], r["title"] = f"{r['id']}-copy{copy}", f"{r.get('title', '')} (copy {copy})"
            r["text"] = f"{r['text']} (copy {copy})"
        out.append(json.dumps(r))
    path = folder / f"corpus-{size}.jsonl"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def tree_memory(pid: int) -> tuple[int, dict[str, int]]:
    """The proportional set size of ``pid`` and every process under it, in all and by kind of process
    (``driver`` for ``pid`` itself; a Ray worker by the actor or task it runs, from its title)."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0, {}
    parts: dict[str, int] = {}
    for p in procs:
        try:  # proportional set size: pages shared by forked workers (or Ray's object store) count once
            pss = p.memory_full_info().pss
            kind = "driver" if p.pid == pid else _kind(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        parts[kind] = parts.get(kind, 0) + pss
    return sum(parts.values()), parts


def _kind(proc) -> str:
    """A short name for a process under the build: Ray titles its workers ``ray::ActorName.method``."""
    words = proc.cmdline() or [proc.name()]
    title = words[0] if words[0].startswith("ray::") else proc.name()
    return title.split(".")[0].split(":")[-1] or title


def timed_build(source: Path, out: Path, engine: str) -> dict:
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:  # pipes could fill
        proc = subprocess.Popen([sys.executable, "-c", BUILD, str(source), str(out), engine],
                                stdout=stdout, stderr=stderr, text=True, start_new_session=True)
        peak, at_peak = 0, {}
        while proc.poll() is None:
            total, parts = tree_memory(proc.pid)
            if total > peak:
                peak, at_peak = total, parts
            time.sleep(0.5)
        seconds = time.perf_counter() - started
        stdout.seek(0), stderr.seek(0)
        if proc.returncode:
            raise SystemExit(f"{engine} build of {source} failed:\n{stderr.read()[-2000:]}")
        timings = json.loads(stdout.read().strip().splitlines()[-1])
    return {"seconds": round(seconds, 1), "peak_gb": round(peak / 2**30, 2),
            "stages": {k: round(v, 1) for k, v in timings.items()},
            "at_peak_gb": {k: round(v / 2**30, 2) for k, v in sorted(at_peak.items(), key=lambda kv: -kv[1])}}


def chart(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (t, m) = plt.subplots(1, 2, figsize=(9, 3.6))
    for engine in ("local", "ray"):
        sizes = sorted(int(s) for s, row in report.items() if engine in row)
        t.plot(sizes, [report[str(s)][engine]["seconds"] for s in sizes], marker="o", label=engine)
        m.plot(sizes, [report[str(s)][engine]["peak_gb"] for s in sizes], marker="o", label=engine)
    t.set_yscale("log")  # time grows about linearly: a straight line of slope one
    for ax, label in ((t, "build time (s)"), (m, "peak memory (GB)")):
        ax.set_xscale("log")
        ax.set_xlabel("passages")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("kg build on this 2-core machine: local engine and Ray")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def merged(files: list[Path], report: dict) -> dict:
    """The runs in ``files`` and then ``report``, by size and engine, the later replacing the earlier."""
    out: dict[str, dict] = {}
    for run in [*(json.loads(f.read_text(encoding="utf-8")) for f in files), report]:
        for size, row in run.items():
            out.setdefault(size, {}).update(row)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--engines", nargs="+", default=["local", "ray"])
    ap.add_argument("--json", type=Path)
    ap.add_argument("--chart", type=Path)
    ap.add_argument("--with", dest="earlier", type=Path, nargs="+", default=[], metavar="JSON",
                    help="earlier runs' --json files to chart beside this run (see the module docstring)")
    args = ap.parse_args(argv)
    report: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="kg-build-scale-") as tmp:
        folder = Path(tmp)
        for size in args.sizes:
            source = corpus(size, folder)
            row = report[str(size)] = {}
            for n, engine in enumerate(args.engines if len(report) % 2 else args.engines[::-1]):
                row[engine] = timed_build(source, folder / f"g-{size}-{engine}", engine)
                row[engine]["passages_per_s"] = round(size / row[engine]["seconds"], 1)
            line = " | ".join(f"{e} {r['seconds']} s, {r['passages_per_s']} passages/s, peak {r['peak_gb']} GB"
                              for e, r in row.items())
            ratio = f"; ray / local time {row['ray']['seconds'] / row['local']['seconds']:.2f}x" if len(row) == 2 else ""
            print(f"{size:>7} passages: {line}{ratio}", flush=True)
            for engine, r in row.items():
                print(f"          {engine} stages (s): {r['stages']}", flush=True)
                print(f"          {engine} memory at the peak (GB): {r['at_peak_gb']}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    if args.chart:
        chart(merged(args.earlier, report), args.chart)
    return 0


if __name__ == "__main__":
    sys.exit(main())
