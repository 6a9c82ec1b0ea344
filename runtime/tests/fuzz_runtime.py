"""Build and fuzz the C runtime (runtime/texgs_runtime.h), and compare it with the Python reader.

- build(): the test driver (runtime_driver.c) with a given compiler and flags;
- fuzz(): clang libFuzzer (fuzz_open.c, AddressSanitizer + UndefinedBehaviorSanitizer) for a bounded
  time from a seed corpus of small packed files (benchmarks/fuzz_reader.py's seeds and mutations of
  them; the target opens each input as it is and with its CRCs repaired), then the differential check
  on the corpus it grew, both ways: every input the C runtime accepts the Python reader accepts too,
  and every rejection names the same problem (the same message class);
- differential(): that check for any list of buffers.

tests/test_runtime_c.py runs a bounded fuzz; the long run of docs/benchmarks.md "C runtime fuzz" is

    nice -n 10 python runtime/tests/fuzz_runtime.py --seconds 600
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pathlib
import re
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
WARNINGS = ["-std=c99", "-Wall", "-Wextra", "-Werror"]
#: How every test build is compiled: warnings as errors, no FMA contraction (bit agreement with the
#: reference decoder's float32 arithmetic).
RELEASE = WARNINGS + ["-O2", "-ffp-contract=off"]
SANITIZE = WARNINGS + ["-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-ffp-contract=off"]
FUZZ = WARNINGS + ["-O1", "-g", "-fsanitize=fuzzer,address,undefined", "-fno-sanitize-recover=all"]
#: libFuzzer's largest input: the seeds are 0.4-1.3 KB.
MAX_LEN = 4096


def fuzz_reader():
    spec = importlib.util.spec_from_file_location("fuzz_reader", ROOT / "benchmarks" / "fuzz_reader.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def build(cc: str, flags: list, out: pathlib.Path, source: str = "runtime_driver.c") -> pathlib.Path:
    """Compile runtime/tests/<source> (which includes the implementation); raises with the compiler's output."""
    libs = ["-lm"] + (["-lpthread"] if source == "runtime_driver.c" else [])
    cmd = [cc, *flags, str(HERE / source), "-o", str(out), *libs]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stdout}{r.stderr}")
    return out


def write_cases(cases: list, path: pathlib.Path) -> None:
    """The driver's batch input: (u32 length, bytes) per case."""
    with open(path, "wb") as f:
        for c in cases:
            f.write(struct.pack("<I", len(c)) + c)


def c_statuses(driver: pathlib.Path, cases: list, tmp: pathlib.Path) -> list:
    """(status code, message) of texgs_open for each buffer."""
    path = tmp / "cases.bin"
    write_cases(cases, path)
    r = subprocess.run([str(driver), "batch", str(path)], capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"driver batch failed ({r.returncode}):\n{r.stderr[-4000:]}")
    lines = r.stdout.splitlines()
    if len(lines) != len(cases):
        raise RuntimeError(f"{len(lines)} results for {len(cases)} cases:\n{r.stderr[-4000:]}")
    return [(int(line.split(" ", 1)[0]), line.split(" ", 1)[1] if " " in line else "") for line in lines]


def python_outcome(data: bytes):
    """None when the Python reader accepts the buffer, else its FormatError message."""
    from texgs.errors import FormatError
    from texgs.format import unpack

    try:
        unpack(data, name="case")
        return None
    except FormatError as e:
        return str(e)


def differential(driver: pathlib.Path, cases: list, tmp: pathlib.Path) -> dict:
    """Counts of agreement between the C runtime and the Python reader; `disagree` lists the cases
    (index, C status and message, Python message) where one accepts and the other rejects, or both
    reject with different message classes (benchmarks/fuzz_reader.error_class)."""
    error_class = fuzz_reader().error_class
    out = {"cases": len(cases), "accepted": 0, "rejected_same_class": 0, "disagree": []}
    for i, (data, (code, msg)) in enumerate(zip(cases, c_statuses(driver, cases, tmp))):
        py = python_outcome(data)
        if py is None and code == 0:
            out["accepted"] += 1
        elif py is not None and code != 0 and error_class(py) == error_class("case: " + msg):
            out["rejected_same_class"] += 1
        else:
            out["disagree"].append((i, code, msg, py))
    return out


def seed_corpus(directory: pathlib.Path, mutations: int = 200, seed: int = 7) -> list:
    """Write the Python fuzz's seed files and some of their mutations (CRCs repaired or not) into
    directory; returns the buffers."""
    fr = fuzz_reader()
    seeds = fr.seed_files() + [(ROOT / "tests" / "data" / "golden" / "material.texgs").read_bytes()]
    mut = fr.Mutator(seeds, seed)
    cases = seeds + [mut.case(i)[0] for i in range(mutations)]
    directory.mkdir(parents=True, exist_ok=True)
    for i, c in enumerate(cases):
        (directory / f"seed{i:04d}").write_bytes(c)
    return cases


def fuzz(seconds: int, work: pathlib.Path) -> dict:
    """Run libFuzzer for `seconds` from a fresh seed corpus in work/; then the differential check on
    the final corpus. Returns the counts (runs, crashes, sanitizer reports, corpus agreement)."""
    clang = shutil.which("clang")
    if not clang:
        raise FileNotFoundError("clang not installed")
    work.mkdir(parents=True, exist_ok=True)
    fuzzer = build(clang, FUZZ, work / "fuzz_open", "fuzz_open.c")
    corpus = work / "corpus"
    seeds = seed_corpus(corpus)
    artifacts = work / "artifacts"
    artifacts.mkdir(exist_ok=True)
    cmd = [
        str(fuzzer),
        f"-max_total_time={seconds}",
        f"-max_len={MAX_LEN}",
        "-timeout=10",
        # ASan's shadow and quarantine alone hold about 1 GB here; a single allocation
        # over 64 MB (the runtime allocates nothing) still fails the run.
        "-rss_limit_mb=3072",
        "-malloc_limit_mb=64",
        "-print_final_stats=1",
        f"-artifact_prefix={artifacts}/",
        str(corpus),
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
    log = r.stderr
    runs = re.findall(r"Done (\d+) runs in (\d+) second", log)
    sanitizer = len(re.findall(r"ERROR: (AddressSanitizer|UndefinedBehaviorSanitizer|libFuzzer)", log)) + len(
        re.findall(r"runtime error:", log)
    )
    crashes = sorted(p.name for p in artifacts.iterdir())
    # The target opens each input as it is and with its CRCs repaired: check both against Python.
    repair = fuzz_reader().repair_crcs
    grown = [p.read_bytes() for p in sorted(corpus.iterdir())]
    grown += [bytes(repair(bytearray(g))) for g in grown]
    driver = build(shutil.which("gcc") or clang, RELEASE, work / "runtime_driver")
    diff = differential(driver, grown, work)
    return {
        "seconds": seconds,
        "runs": int(runs[-1][0]) if runs else None,
        "exit_code": r.returncode,
        "crashes": len(crashes),
        "crash_files": crashes,
        "sanitizer_reports": sanitizer,
        "seed_inputs": len(seeds),
        "corpus_inputs": len(grown) // 2,
        "corpus_cases_checked": len(grown),
        "corpus_accepted_by_both": diff["accepted"],
        "corpus_rejected_same_class": diff["rejected_same_class"],
        "corpus_disagreements": diff["disagree"][:20],
        "log_tail": "" if r.returncode == 0 else log[-3000:],
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=600)
    ap.add_argument("--work", default=None, help="folder for the build and corpus (default: a temporary one)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        result = fuzz(args.seconds, pathlib.Path(args.work or tmp))
    print(json.dumps(result, indent=1))
    ok = result["exit_code"] == 0 and not result["crashes"] and not result["sanitizer_reports"]
    return 0 if ok and not result["corpus_disagreements"] else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
