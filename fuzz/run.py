"""Fuzz one target for a while: python -m fuzz.run TARGET SECONDS [--engine atheris|mutate] [--seed N]

The inputs run in a worker process with its address space capped at 2 GB and each input cut off
after 5 s (atheris: libFuzzer's -rss_limit_mb and -timeout), restarted after a crash or hang for
the time left. Findings (an exception other than the reader's documented one, a crash, a hang,
running out of memory) land in .fuzz/TARGET/ with their input; prints executions, seconds and
findings. atheris (pip install 'manypose[fuzz]') guides the mutations by coverage; without it a
seeded mutation loop (fuzz/mutate.py) runs."""
from __future__ import annotations

import argparse
import faulthandler
import hashlib
import json
import random
import resource
import subprocess
import sys
import time
import traceback
from pathlib import Path

from .seeds import PROJECT_ROOT

MEMORY_LIMIT = 2 << 30
INPUT_SECONDS = 5
WORK = PROJECT_ROOT / ".fuzz"
SUMMARY_MARK = "fuzz-worker-summary "


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz.run", description=__doc__.splitlines()[0])
    parser.add_argument("target")
    parser.add_argument("seconds", type=float)
    parser.add_argument("--engine", choices=("atheris", "mutate"), default=default_engine())
    parser.add_argument("--seed", type=int, default=0, help="of the mutation loop's random choices")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    from .targets import TARGETS

    if args.target not in TARGETS:
        parser.error(f"unknown target {args.target!r}; known: {', '.join(TARGETS)}")
    if args.worker:
        return run_worker(args)
    return supervise(args)


def default_engine() -> str:
    try:
        import atheris  # noqa: F401
    except ImportError:
        return "mutate"
    return "atheris"


def findings_folder(target: str) -> Path:
    folder = WORK / target / "findings"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# --- the supervisor: restarts the worker until the time is up ------------------------------

def supervise(args) -> int:
    started = time.monotonic()
    executions, findings, peak_kb, attempt = 0, set(), 0, 0
    while (left := args.seconds - (time.monotonic() - started)) > 1:
        worker = [sys.executable, "-m", "fuzz.run", args.target, str(left), "--engine", args.engine,
                  "--seed", str(args.seed + attempt), "--worker"]
        result = subprocess.run(worker, cwd=PROJECT_ROOT, capture_output=True, text=True, errors="replace",
                                preexec_fn=_limit_memory if args.engine == "mutate" else None)
        summary = _summary(result.stdout + result.stderr)
        executions += summary.get("executions", 0)
        peak_kb = max(peak_kb, summary.get("peak_kb", 0))
        findings |= set(summary.get("findings", []))
        if result.returncode and args.engine == "mutate":  # died inside an input: a crash or a hang
            findings.add(_save_dying_input(args.target, result))
        elif result.returncode:
            findings |= _new_atheris_artifacts(args.target, result)
        attempt += 1
    seconds = time.monotonic() - started
    print(f"{args.target}: {executions} executions in {seconds:.0f} s ({args.engine}), "
          f"{len(findings)} findings, peak memory {peak_kb / 1024:.0f} MB")
    for finding in sorted(findings):
        print(f"  {finding}")
    return 1 if findings else 0


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _summary(output: str) -> dict:
    lines = [line for line in output.splitlines() if line.startswith(SUMMARY_MARK)]
    summary = json.loads(lines[-1][len(SUMMARY_MARK):]) if lines else {}
    executed = [line for line in output.splitlines() if line.startswith("stat::number_of_executed_units:")]
    if executed:  # libFuzzer's count, printed as it exits
        summary["executions"] = int(executed[-1].split(":")[-1])
    peak = [line for line in output.splitlines() if line.startswith("stat::peak_rss_mb:")]
    if peak:
        summary["peak_kb"] = int(peak[-1].split(":")[-1]) * 1024
    return summary


def _save_dying_input(target: str, result: subprocess.CompletedProcess) -> str:
    current = WORK / target / "current-input"
    data = current.read_bytes() if current.is_file() else b""
    kind = "hang" if "Timeout" in result.stderr else "crash"
    return _save(target, kind, data, result.stderr[-4000:])


def _new_atheris_artifacts(target: str, result: subprocess.CompletedProcess) -> set[str]:
    saved = set()
    for line in result.stderr.splitlines():  # "artifact_prefix='...'; Test unit written to PATH"
        if "Test unit written to " in line:
            path = Path(line.split("Test unit written to ")[-1].strip())
            kind = path.name.split("-")[0]  # crash, timeout, oom, leak
            saved.add(_save(target, kind, path.read_bytes(), result.stderr[-4000:]))
            path.unlink()
    return saved


def _save(target: str, kind: str, data: bytes, report: str) -> str:
    name = f"{kind}-{hashlib.sha1(data).hexdigest()[:12]}"
    folder = findings_folder(target)
    (folder / name).write_bytes(data)
    (folder / f"{name}.txt").write_text(report)
    return f"{folder.relative_to(PROJECT_ROOT)}/{name}"


# --- the worker: runs inputs ---------------------------------------------------------------

def run_worker(args) -> int:
    if args.engine == "atheris":
        return _run_atheris(args)
    from .mutate import mutated
    from .seeds import seeds_of
    from .targets import TARGETS

    target, seeds, rng = TARGETS[args.target], seeds_of(args.target), random.Random(args.seed)
    current = findings_folder(args.target).parent / "current-input"
    findings: dict[tuple, str] = {}
    executions, deadline = 0, time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        data = mutated(seeds, rng)
        current.write_bytes(data)  # what the supervisor keeps if this input kills the worker
        faulthandler.dump_traceback_later(INPUT_SECONDS, exit=True)
        try:
            target(data)
        except Exception as error:  # noqa: BLE001 - any escaping exception is what we look for
            where = traceback.extract_tb(error.__traceback__)[-1]
            key = (type(error).__name__, where.filename, where.lineno)
            if key not in findings:
                findings[key] = _save(args.target, type(error).__name__, data, traceback.format_exc())
        finally:
            faulthandler.cancel_dump_traceback_later()
        executions += 1
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(SUMMARY_MARK + json.dumps({"executions": executions, "findings": sorted(findings.values()),
                                     "peak_kb": peak_kb}), flush=True)
    return 0


def _run_atheris(args) -> int:
    import atheris

    corpus = WORK / args.target / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    with atheris.instrument_imports(include=["manypose"]):
        from .seeds import seeds_of
        from .targets import TARGETS

        target = TARGETS[args.target]
        for seed in seeds_of(args.target):  # imports the reader's modules inside the instrumentation
            (corpus / hashlib.sha1(seed).hexdigest()).write_bytes(seed)
            target(seed)
    libfuzzer = [sys.argv[0], str(corpus), f"-max_total_time={int(args.seconds)}", f"-timeout={INPUT_SECONDS}",
                 f"-rss_limit_mb={MEMORY_LIMIT >> 20}", f"-artifact_prefix={findings_folder(args.target)}/",
                 f"-seed={args.seed + 1}", "-print_final_stats=1", "-max_len=262144"]
    atheris.Setup(libfuzzer, target)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main())
