"""Mutation testing of pcfx's decision code: which deliberate breakages of a rule does the suite not notice?

    .venv/bin/pip install -e '.[mutation]'
    .venv/bin/python bench/mutation.py [--group verify|ingest|publisher|allocation ...] [--children N] [--show]

For each group, mutmut (3.x) rewrites the group's modules into many mutants (an operator, a constant, a
comparison changed; a call's argument dropped), runs the group's tests against each, and records which
mutants no test kills. The groups cover verification (signature, registry, status checks), the ingest
decision and downgrade rules, the publisher's latest-version guard, and allocation with the solver's inputs.

mutmut maps a file path to its module name below `src/`, so each group runs in its own work directory,
`mutation/<group>/`, holding one merged source root (`src/pcfx/protocol` and `src/pcfx/node`) and a copy of
`tests/`. Tests import the mutated copy; a test that runs `pcfx` in a subprocess runs the installed code,
so a mutant only such a test would catch shows as surviving. Slow: minutes per group; not in the CI run.
Prints, per module, mutants killed / all, and the survivors (with --show their diffs).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import tomli_w

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "mutation"
SOURCES = {"protocol": ROOT / "protocol/src/pcfx/protocol", "node": ROOT / "node/src/pcfx/node"}


@dataclass(frozen=True)
class Group:
    """Modules to mutate (below src/) and the tests that must kill their mutants."""

    modules: tuple[str, ...]
    tests: tuple[str, ...]


GROUPS: dict[str, Group] = {
    "verify": Group(
        modules=(
            "pcfx/protocol/verify.py",
            "pcfx/protocol/registry.py",
            "pcfx/protocol/status.py",
        ),
        tests=(
            "tests/test_verify_failures.py",
            "tests/test_verify_hot_path.py",
            "tests/test_registry.py",
            "tests/test_status.py",
            "tests/test_tamper.py",
            "tests/test_assurance.py",
            "tests/test_declaration_sign_verify.py",
            "tests/protocol",
        ),
    ),
    "ingest": Group(
        modules=(
            "pcfx/node/bus/ingest/versions.py",
            "pcfx/node/bus/ingest/screening.py",
            "pcfx/node/bus/ingest/batch_writer.py",
            "pcfx/node/bus/ingest/per_message.py",
            "pcfx/node/bus/ingest/ingestor.py",
            "pcfx/node/bus/ingest/retries.py",
        ),
        # In-process tests only (a node run in a subprocess runs the installed code, not the mutant); the
        # failure tests that need PostgreSQL run when PCFX_TEST_POSTGRES_URL is set.
        tests=(
            "tests/node/test_ingest_rules.py",
            "tests/node/test_ingest_screening.py",
            "tests/node/test_ingest_failures.py",
            "tests/node/test_ingest_delivery.py",
            "tests/node/test_bulk_ingest.py",
            "tests/node/test_verify_pool.py",
            "tests/supply/test_buyer_only_ingest.py",
            "tests/supply/test_buyer_only_versions.py",
        ),
    ),
    "publisher": Group(
        modules=("pcfx/node/bus/publisher.py",),
        tests=(
            "tests/node/test_exchange.py",
            "tests/node/test_faults.py",
            "tests/node/test_issuing.py",
            "tests/node/test_publisher_guard.py",
            "tests/node/test_publisher_messages.py",
        ),
    ),
    "allocation": Group(
        modules=(
            "pcfx/node/engine/allocation.py",
            "pcfx/node/engine/allocation_review.py",
            "pcfx/node/engine/technosphere.py",
            "pcfx/node/engine/system.py",
            "pcfx/node/engine/system_checks.py",
        ),
        tests=(
            "tests/engine/test_allocation.py",
            "tests/engine/test_allocation_checks.py",
            "tests/engine/test_allocation_rules.py",
            "tests/engine/test_allocation_flags.py",
            "tests/engine/test_solver_inputs.py",
            "tests/engine/test_factorisation.py",
            "tests/engine/test_system_checks.py",
            "tests/engine/test_invalid_inventories.py",
            "tests/engine/test_system.py",
            "tests/engine/test_vectors.py",
        ),
    ),
}

REPOSITORY_FILES = ("protocol", "node", "schemas", "deploy", "bench", "README.md")
_KILLED = ("killed", "timeout")
_RESULT = re.compile(r"^\s*(?P<name>\S+?)__mutmut_\d+: (?P<status>.+)$")


def prepare(name: str, group: Group) -> Path:
    """A fresh work directory for one group: merged sources, the tests, a pyproject that configures mutmut."""
    work = WORK / name
    shutil.rmtree(work, ignore_errors=True)
    for part, source in SOURCES.items():
        shutil.copytree(source, work / "src" / "pcfx" / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "tests", work / "tests", ignore=shutil.ignore_patterns("__pycache__", "artifacts"))
    # what the tests read from the repository (examples, vectors, schemas, docs), copied on into mutants/
    for name in REPOSITORY_FILES:
        (work / name).symlink_to(ROOT / name)
    pytest_options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
    tests = [t for t in group.tests if (ROOT / t).exists()]
    config = {
        "tool": {
            "pytest": pytest_options,
            "mutmut": {
                "source_paths": ["src"],
                "only_mutate": [f"src/{module}" for module in group.modules],
                "pytest_add_cli_args_test_selection": tests,
                "also_copy": list(REPOSITORY_FILES),
                "pytest_add_cli_args": ["-p", "no:cacheprovider", "-q"],
            },
        }
    }
    (work / "pyproject.toml").write_text(tomli_w.dumps(config))
    return work


def mutmut(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the venv's mutmut in a group's work directory."""
    exe = Path(sys.executable).with_name("mutmut")
    return subprocess.run([str(exe), *args], cwd=work, capture_output=True, text=True, env=os.environ.copy())


def selected_tests(work: Path) -> list[str]:
    """The test files a group's last run selected (its work directory's mutmut configuration)."""
    config = tomllib.loads((work / "pyproject.toml").read_text())
    return list(config["tool"]["mutmut"]["pytest_add_cli_args_test_selection"])


def again(work: Path, *, children: int) -> subprocess.CompletedProcess[str]:
    """Copy the current tests into a group's mutants/ and re-run the survivors of its last run (the same test
    files: mutmut maps tests to functions in its first run, so a new test file needs a fresh run)."""
    shutil.copytree(
        ROOT / "tests",
        work / "mutants" / "tests",
        ignore=shutil.ignore_patterns("__pycache__", "artifacts"),
        dirs_exist_ok=True,
    )
    survivors = [m for mutants in results(work).values() for m, status in mutants if status not in _KILLED]
    if not survivors:
        return subprocess.CompletedProcess([], 0, "", "")
    return mutmut(work, "run", "--max-children", str(children), *survivors)


def results(work: Path) -> dict[str, list[tuple[str, str]]]:
    """Each mutant's status, per module: {module: [(mutant, status)]}."""
    listing = mutmut(work, "results", "--all", "true").stdout
    per_module: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for line in listing.splitlines():
        match = _RESULT.match(line)
        if match is None:
            continue
        mutant = line.strip().split(":")[0]
        module = ".".join(p for p in match["name"].split(".") if not p.startswith("x"))
        per_module[module].append((mutant, match["status"].strip()))
    return per_module


def report(name: str, work: Path, *, show: bool) -> tuple[int, int]:
    """Print each module's score and its surviving mutants; return (killed, all) of the group."""
    group_killed = group_all = 0
    for module, mutants in sorted(results(work).items()):
        counts = Counter(status for _, status in mutants)
        killed = sum(counts[status] for status in _KILLED)
        group_killed += killed
        group_all += len(mutants)
        spread = ", ".join(f"{n} {status}" for status, n in counts.most_common())
        print(f"  {module}: {killed}/{len(mutants)} killed ({100 * killed / len(mutants):.1f} %): {spread}")
        for mutant, status in mutants:
            if status in _KILLED:
                continue
            print(f"    {status:>10}  {mutant}")
            if show:
                diff = mutmut(work, "show", mutant).stdout
                print("\n".join("      " + line for line in diff.splitlines() if line.startswith(("+", "-"))))
    return group_killed, group_all


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--group", action="append", choices=sorted(GROUPS), help="default: every group")
    parser.add_argument("--children", type=int, default=os.cpu_count() or 1, help="mutants run at once")
    parser.add_argument("--show", action="store_true", help="print each surviving mutant's diff")
    parser.add_argument("--report-only", action="store_true", help="report the last run, run nothing")
    parser.add_argument(
        "--again",
        action="store_true",
        help="re-run only the last run's survivors against the current tests (sources unchanged)",
    )
    args = parser.parse_args()
    if shutil.which("mutmut", path=str(Path(sys.executable).parent)) is None:
        print("mutmut is not installed: .venv/bin/pip install -e '.[mutation]'", file=sys.stderr)
        return 2
    total_killed = total_all = 0
    for name in args.group or sorted(GROUPS):
        group = GROUPS[name]
        work = WORK / name
        print(f"{name}: {len(group.modules)} modules, tests {' '.join(group.tests)}", flush=True)
        run: subprocess.CompletedProcess[str] | None = None
        if args.again:
            listed = [t for t in group.tests if (ROOT / t).exists()]
            if selected_tests(work) != listed:
                print(
                    f"  {name}'s test files changed since its last run: run it without --again",
                    file=sys.stderr,
                )
                return 1
            started = time.monotonic()
            run = again(work, children=args.children)
            print(f"  survivors re-run in {time.monotonic() - started:.0f} s")
        elif not args.report_only:
            work = prepare(name, group)
            started = time.monotonic()
            run = mutmut(work, "run", "--max-children", str(args.children))
            print(f"  ran in {time.monotonic() - started:.0f} s")
        if run is not None and run.returncode != 0:
            print(run.stdout[-2000:] + run.stderr[-2000:], file=sys.stderr)
            return 1
        killed, count = report(name, work, show=args.show)
        total_killed += killed
        total_all += count
    if total_all:
        print(f"all groups: {total_killed}/{total_all} killed ({100 * total_killed / total_all:.1f} %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
