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

_LABEL = "the label of a same_future key: any constant compares the same"
_TAU = "decays_at at tau = 0: ((0 + 1) * P - 1) // D is 0 anyway, since P <= D is validated"
EQUIVALENT: dict[str, str] = {
    "bounded_lr_resolver.replan.x__key__mutmut_6": _LABEL,
    "bounded_lr_resolver.replan.x__key__mutmut_7": _LABEL,
    "bounded_lr_resolver.bounds.x__derive_gamma__mutmut_7": "gamma == 0 (underflow) fails the isclose next",
    "bounded_lr_resolver.bounds.x__derive_gamma__mutmut_15": "math.isclose's default rel_tol is 1e-9 too",
    "bounded_lr_resolver.schedule.xǁScheduleǁdecays_at__mutmut_3": _TAU,
    "bounded_lr_resolver.schedule.xǁScheduleǁdecays_at__mutmut_4": _TAU,
}
"""Surviving mutants that cannot change behaviour, each with the reason."""

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
    print("| module | mutants | checked | killed | timeout | survived | equivalent | no tests | score |")
    print("|---|---|---|---|---|---|---|---|---|")
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
        checked = len(codes) - counts["not checked"]
        print(
            f"| {module} | {len(codes)} | {checked} | {counts['killed']} | {counts['timeout']} | "
            f"{counts['survived']} | {counts['equivalent']} | {counts['no tests']} | {score} |"
        )
    print(f"\n{len(survivors)} survivors (mutmut show <name>):")
    for name in survivors:
        print(f"  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
