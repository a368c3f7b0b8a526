"""Print the mutation run's table: killed / survived / other per module, from mutmut's ``mutants/*.meta``.

``python tools/mutation_table.py`` after ``tools/mutation.sh``. Exit codes as mutmut 3.8 reads them:
1 and 3 killed, 36 and 24 timeout (killed by the time limit), 0 survived, 33 and 5 no tests.
Survivors judged equivalent are listed in ``EQUIVALENT`` (mutant name -> one-line reason) and
counted apart, so the score is over the mutants a test could kill.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

EQUIVALENT: dict[str, str] = {}
"""Surviving mutants that cannot change behaviour, each with the reason (filled in after a run)."""

_STATUS = {
    1: "killed",
    3: "killed",
    36: "timeout",
    24: "timeout",
    -24: "timeout",
    0: "survived",
    33: "no tests",
    5: "no tests",
}


def main() -> int:
    metas = sorted(Path("mutants").glob("**/*.py.meta"))
    if not metas:
        print("no mutants/ results: run tools/mutation.sh first", file=sys.stderr)
        return 1
    print("| module | mutants | killed | timeout | survived | equivalent | no tests | score |")
    print("|---|---|---|---|---|---|---|---|")
    survivors: list[str] = []
    for meta in metas:
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        counts: Counter[str] = Counter()
        for name, code in codes.items():
            status = _STATUS.get(code, "not checked" if code is None else "other")
            if status == "survived" and name in EQUIVALENT:
                status = "equivalent"
            elif status == "survived":
                survivors.append(name)
            counts[status] += 1
        caught = counts["killed"] + counts["timeout"]
        could = caught + counts["survived"] + counts["no tests"]
        score = f"{100 * caught / could:.1f} %" if could else "-"
        module = str(meta.relative_to("mutants"))[: -len(".meta")]
        print(
            f"| {module} | {len(codes)} | {counts['killed']} | {counts['timeout']} | {counts['survived']} | "
            f"{counts['equivalent']} | {counts['no tests']} | {score} |"
        )
    print(f"\n{len(survivors)} survivors (mutmut show <name>):")
    for name in survivors:
        print(f"  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
