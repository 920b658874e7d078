"""The HL7 cross-validator test cases (fhir-test-cases `validator/`) as a conformance check.

Each R4 JSON case names a resource and the Java validator's expected OperationOutcome; a case
agrees when our verdict (any error or not) matches the Java one. `tests/fhir/conformance.json`
holds the cases that agree (run by the test suite) and the known disagreements by reason class.

    .venv/bin/python -m tests.fhir.conformance            # print the figures
    .venv/bin/python -m tests.fhir.conformance --write    # also rewrite conformance.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fireside.fhir import load_definitions
from fireside.fhir.errors import FhirError, Issue
from fireside.fhir.validation import Validator

CASES = Path(__file__).resolve().parents[3] / "shared" / "fhir-validator-tests"
EXPECTATIONS = Path(__file__).resolve().parent / "conformance.json"
R4_VERSIONS = ("4.0", "4.0.1")


@dataclass(frozen=True)
class Case:
    name: str
    raw: dict[str, Any]

    @property
    def file(self) -> Path:
        return CASES / self.raw["file"]

    @property
    def supporting(self) -> list[Path]:
        return [CASES / name for key in ("supporting", "profiles") for name in self.raw.get(key, [])]

    @property
    def expected_errors(self) -> int | None:
        """Errors and fatals in the Java validator's outcome, or None when it gives none."""
        java = self.raw.get("java")
        if isinstance(java, str):
            path = CASES / "outcomes" / java
            if not path.exists():
                return None
            return _error_count(json.loads(path.read_bytes()))
        if isinstance(java, dict):
            if "errorCount" in java:
                return int(java["errorCount"])
            if "outcome" in java:
                return _error_count(java["outcome"])
        return None


def _error_count(outcome: dict[str, Any]) -> int:
    return sum(1 for issue in outcome.get("issue", []) if issue.get("severity") in ("error", "fatal"))


def r4_json_cases() -> list[Case]:
    manifest = json.loads((CASES / "manifest.json").read_bytes())
    cases: list[Case] = []
    seen: Counter[str] = Counter()
    for raw in manifest["test-cases"]:
        if raw.get("version") in R4_VERSIONS and raw["file"].endswith(".json"):
            seen[raw["name"]] += 1
            # A few names repeat in the manifest (the same input with another setup).
            suffix = f"#{seen[raw['name']]}" if seen[raw["name"]] > 1 else ""
            cases.append(Case(raw["name"] + suffix, raw))
    return cases


def load_resource(path: Path) -> Any:
    """The case's JSON, or None where it is not strict JSON (JSON5, comments, truncated)."""
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def validator_for(case: Case, shared: Validator) -> Validator:
    """The shared validator, or a fresh one holding the case's supporting StructureDefinitions."""
    definitions = [r for r in map(load_resource, case.supporting)
                   if isinstance(r, dict) and r.get("resourceType") == "StructureDefinition"]
    if not definitions:
        return shared
    validator = Validator(load_definitions())
    for definition in definitions:
        # A profile we cannot use is left out: the resource is validated as if it were unknown.
        with contextlib.suppress(FhirError):
            validator.register_profile(definition)
    return validator


def run(case: Case, shared: Validator) -> list[Issue] | None:
    """Our issues for the case, or None where the input is not JSON we would accept at all."""
    resource = load_resource(case.file)
    if not isinstance(resource, dict):
        return None
    return validator_for(case, shared).validate(resource)


def verdict(issues: list[Issue] | None) -> bool:
    """True when the resource is judged invalid."""
    return issues is None or any(issue.severity in ("error", "fatal") for issue in issues)


NO_EXPECTATION = "no input file or no Java expectation in the suite"


def compare(shared: Validator, show: list[str]) -> tuple[list[str], list[str]]:
    """The names of the cases that agree, and of those that do not."""
    agree, disagree = [], []
    for case in r4_json_cases():
        expected = case.expected_errors
        if not case.file.exists() or expected is None:
            disagree.append(case.name)
            continue
        issues = run(case, shared)
        if case.name in show:
            print(case.name, "expected", expected, [issue.to_json() for issue in issues or []])
        (agree if verdict(issues) == (expected > 0) else disagree).append(case.name)
    return agree, disagree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite conformance.json")
    parser.add_argument("--show", nargs="*", default=[], help="print our issues for these cases")
    arguments = parser.parse_args()
    known = json.loads(EXPECTATIONS.read_bytes())["disagree"] if EXPECTATIONS.exists() else {}
    agree, names = compare(Validator(load_definitions()), arguments.show)
    cases = {case.name: case for case in r4_json_cases()}
    disagree = {}
    for name in names:
        case = cases[name]
        missing = not case.file.exists() or case.expected_errors is None
        disagree[name] = NO_EXPECTATION if missing else known.get(name, "unclassified")
        if disagree[name] == "unclassified":
            print(f"{name}: expected {case.expected_errors} errors, we disagree")
    print(f"agree {len(agree)}/{len(agree) + len(disagree)}")
    for reason, count in Counter(disagree.values()).most_common():
        print(f"  {count:4} {reason}")
    if arguments.write:
        payload = {"agree": sorted(agree), "disagree": dict(sorted(disagree.items()))}
        EXPECTATIONS.write_text(json.dumps(payload, indent=1) + "\n")


if __name__ == "__main__":
    main()
