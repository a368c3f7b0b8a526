"""Print the mutation run's table: killed / survived / equivalent per module, from mutmut's ``mutants/``.

``python tools/mutation_table.py [--survivors]`` after ``tools/mutation.sh``. Exit codes as mutmut
3.8 reads them: 1 and 3 killed, 36, 24 and -24 timeout (killed by the time limit), 0 survived, 33
and 5 no tests. A survivor is judged equivalent by a rule in ``EQUIVALENT`` (which function, which
line change, and the one-line reason), matched against the mutant's own diff, so the judgement
holds when a later edit renumbers the mutants. The score is over the mutants a test could kill.
"""

from __future__ import annotations

import ast
import difflib
import json
import re
import sys
from collections import Counter
from functools import cache
from pathlib import Path

_EQUAL_LENGTHS = "zip(..., strict=) over sequences that always have equal lengths: strict only asserts it"
EQUIVALENT: list[tuple[str, str, str]] = [
    # (function name regex, regex on the changed lines ("-old" / "+new"), reason)
    (r".", r"\+.*zip\(.*(strict=None|strict=False|, \))", _EQUAL_LENGTHS),
    (  # the same, for a zip(...) whose arguments span lines: _plan and _factors grow together
        r"scheduler\.xǁBoundedLRǁstate_dict$",
        r"\+\s+self\._plan\[self\._declared :\], self\._factors\[self\._declared :\], "
        r"(strict=(None|False)|\))$",
        _EQUAL_LENGTHS,
    ),
    (
        r"resolvers\.x_lr_\w+$",
        r"\+\s*return bounds\.\w+\(.*, \)$",
        "where= left out: the bounds function's default where is the resolver's own name",
    ),
    (r"replan\.x__key$", r"\+", "the label of a same_future key: any constant compares the same"),
    (
        r"schedule\.xǁScheduleǁ__post_init__$",
        r"\+.*'(XX or XX| OR )'\.join\(map\(repr, kinds\)\)",
        "every _ONLY_FOR entry names one kind, so the separator never shows",
    ),
    (
        r"schedule\.xǁScheduleǁlr_at$",
        r"\+.*(self\.power or 2\.0|if lr >= base else|if lr <= final else)",
        "power is read by the polynomial shape only, whose power is normalized to a float > 0; at "
        "lr == base (or final) the clamp gives the same value",
    ),
    (
        r"bounds\.x__derive_gamma$",
        r"\+\s+return min\(result, 2\.0\)",
        "final_lr <= initial_lr is checked first, so the power is <= 1.0 and the min only a guard",
    ),
    (
        r"scheduler\.xǁBoundedLRǁstep$",
        r"\+\s+if epoch is not None or self\._step_count (<= 2|< 3):",
        "the second step also through torch's step(): the same count and write on a slower path "
        "(torch's call-order checks fire on the first call only)",
    ),
    (
        r"scheduler\.xǁBoundedLRǁ(_touched|_write)$",
        r"\+\s+(now = None|if tensor is not None:|if now != lr or now\.__class__ is float:|return True"
        r"|versions\.append\((None|1)\))",
        "_touched is step()'s cheap pre-check: answering 'touched' when nothing changed only runs "
        "_follow_outside_changes, which finds every LR unchanged (a cost the benchmark measures); a "
        "float group's version is never read",
    ),
    (r"bounds\.x__derive_gamma$", r"\+.*result < 0\.0", "gamma == 0 (underflow) fails the isclose next"),
    (
        r"bounds\.x__derive_gamma$",
        r"\+.*math\.isclose\([^)]*, \)",
        "math.isclose's default rel_tol is 1e-9 too",
    ),
    (
        r"schedule\.xǁScheduleǁdecays_at$",
        r"\+.*tau (<|<=) [01]",
        "decays_at at tau = 0: ((0 + 1) * P - 1) // D is 0 anyway, since P <= D is validated",
    ),
    (
        r"checkpoint\.x__same_bounds$",
        r"\+.*(== len\(ours\)|elif old\[key\] == value|    if math\.isclose|XXbase_lrXX|BASE_LR"
        r"|key != \"base_lr\")",
        "a fast path: when it answers 'not the same' for equal bounds, BoundedLR._resumed_plan compares "
        "each group's future (same_future, base LR within one fp32 rounding) and accepts them as before",
    ),
    (
        r"checkpoint\.x__same_bounds$",
        r"\+\s+(return False$|if not math\.isclose\(old\[key\], value, \))",
        "a fast path (see above): 'not the same' falls through to the per-group comparison",
    ),
    (
        r"checkpoint\.x__same_bounds$",
        r"\+\s+return True$",
        "a checkpoint with another group count is refused by validated_state before _same_bounds runs",
    ),
    (
        r"curve\.",
        r"\+.*(np\.empty\(distinct\.size, (dtype=None|)\)|astype\(None\)|np\.zeros\(t\.shape, (dtype=None|)\)"
        r"|for v in t\.flat\], (dtype=None|)\)|for step in t\.ravel\(\)\], (dtype=None|)\)"
        r"|tolist\(\)\), (None, distinct\.size$|np\.float64, \)))"
        # np.fromiter's arguments on their own lines: the dtype, or the count (the whole diff)
        r"|-\s+np\.float64,\n\+\s+None,$|-\s+last - first \+ 1,\n-\s+\)\n\+\s+\)$",
        "numpy's default dtype is the same (float64 for floats, int64 for Python ints; the count of "
        "np.fromiter only presizes)",
    ),
    (
        r"curve\.",
        r"\+.*(max_steps \+ 2\)|\"XXiuXX\")",
        "past the end every step has final_lr (any clip above max_steps); 'i' and 'u' are in 'XXiuXX'",
    ),
    (
        r"curve\.x_lr_curve$",
        r"\+.*(last \+ first < 2|last - first <= 2|< 3 \* k\.size|\(last \+ 2\) << LOW_BITS)",
        "which of two tables of the same powers is used (dense or sparse), or one power too many in it",
    ),
    (
        r"curve\.x_lr_curve$",
        r"\+.*(max_steps - 2\)|max_steps \+ 3\)|<= _INT64_SAFE)",
        "the exact-integer path is always right, and 2**62 leaves a factor of 2 below int64 overflow",
    ),
    (
        r"curve\.x_lr_curve$",
        r"\+.*if k\.size else \((1, 0|0, 1)\)",
        "no steps: the table is indexed by nothing",
    ),
    (r"curve\.", r"\+.*where\.reshape\(None\)", "np.unique's inverse already has the steps' shape"),
    (
        r"replan\.x_tail$",
        r"\+.*(new\.decay_steps or 2|remaining \+ fields\[\"warmup_steps\"\])",
        "a wsd tail's decay_steps: new.decay_steps is never None (normalized), and the cap binds only "
        "after warmup, where the tail's warmup_steps is 0",
    ),
    (
        r"replan\.x_tail$",
        r"\+\s+if fields\[\"n_updates\"\] (<= 1|< 2) and at_resume == end_lr",
        "one update left while already at final_lr: setting n_updates=1 changes nothing",
    ),
    (
        r"replan\.xǁPlanǁdecays_made$",
        r"\+\s+if step < resumed_at",
        "at step == resumed_at the next tail adds decays_at(0), which is 0 for every schedule",
    ),
    (
        r"scheduler\.xǁBoundedLRǁ(_adopt|__init__)$",
        r"\+.*(self\._lr_at\(main\)\(max\(self\.last_epoch, 0\), (None|)\)"
        r"|self\._versions: list\[int\] = None)",
        "the main group's base is its schedule's initial_lr (checked at build), which lr_at uses for "
        "None; _versions is read only after the first write sets it",
    ),
    (
        r"scheduler\.xǁBoundedLRǁ(load_state_dict|__init__)$",
        r"\+\s+self\._written(: list\[float\] \| None)? = \"\"",
        "'' is falsy like None: the next step writes every group as after a load",
    ),
    (
        r"scheduler\.xǁBoundedLRǁ_resumed_plan$",
        r"\+.*readable=None",
        "None is falsy like False: the same message",
    ),
    (
        r"resolvers\.x__registered_function$",
        r"\+.*strict=",
        "co_freevars and __closure__ of one function always have equal lengths",
    ),
    (
        r"resolvers\.x__bind$",
        r"\+.*register_new_resolver\(.*use_cache=None"
        r"|\+.*register_new_resolver\(name, function, replace=True, \)",
        "OmegaConf 2.3's use_cache defaults to False (None is falsy too)",
    ),
    (
        r"resolvers\.x__bind$",
        r"\+\s+name, function, replace=True, (use_cache=None, )?annotation_validation=\"off\"$",
        "OmegaConf 2.4's register_resolver has use_cache=False by default too (None is falsy)",
    ),
]
"""Rules for survivors that cannot change behaviour."""

_STATUS = {
    1: "killed",
    3: "killed",
    36: "timeout",
    24: "timeout",
    -24: "timeout",
    0: "survived",
    33: "no tests",
}
_STATUS[5] = "no tests"


@cache
def _functions(module: Path) -> dict[str, str]:
    """Every function's source in a mutated module, by name (the original is ``<name>__mutmut_orig``)."""
    source = module.read_text()
    return {
        node.name: ast.get_source_segment(source, node) or ""
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef) and "__mutmut_" in node.name
    }


def changed_lines(name: str) -> list[str]:
    """The mutant's diff against the original function: ``-old`` and ``+new`` lines."""
    module_name, function = name.rsplit(".", 1)
    module = Path("mutants", *module_name.split(".")).with_suffix(".py")
    functions = _functions(module)
    base = function.rsplit("__mutmut_", 1)[0]
    original = functions.get(f"{base}__mutmut_orig", "").replace(f"{base}__mutmut_orig", base).splitlines()
    mutated = functions.get(function, "").replace(function, base).splitlines()  # defaults are mutated too
    diff = difflib.unified_diff(original, mutated, lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")]


def equivalent(name: str) -> str | None:
    """The reason a survivor is equivalent, or None."""
    function = name.rsplit("__mutmut_", 1)[0]
    lines = changed_lines(name)
    diff = "\n".join(lines)  # a rule with "\n" in it is matched against the whole diff
    for where, change, reason in EQUIVALENT:
        if re.search(where, function) and (
            any(re.match(change, line) for line in lines)
            or ("\\n" in change and re.search(change, diff, re.MULTILINE))
        ):
            return reason
    return None


_KILLED = (1, 3, 36, 24, -24)


def keep_kills(earlier: Path) -> None:
    """Merge an earlier run's kills into ``mutants/``: killed on either Hydra stack is killed.

    ``tools/mutation.sh`` with ``VENV=.venv14`` re-runs mutants on the other stack, where a branch for
    the first stack never runs; CI runs the suite on both stacks, so a kill on either counts.
    """
    for meta in Path("mutants").glob("**/*.py.meta"):
        before = earlier / meta.name
        if not before.is_file():
            continue
        data = json.loads(meta.read_text())
        old = json.loads(before.read_text())["exit_code_by_key"]
        codes = data["exit_code_by_key"]
        for name, code in codes.items():
            if code not in _KILLED and old.get(name) in _KILLED:
                codes[name] = old[name]
        meta.write_text(json.dumps(data, indent=4))


def main() -> int:
    show = "--survivors" in sys.argv
    if "--keep-kills" in sys.argv:
        keep_kills(Path(sys.argv[sys.argv.index("--keep-kills") + 1]))
    metas = sorted(Path("mutants").glob("**/*.py.meta"))
    if not metas:
        print("no mutants/ results: run tools/mutation.sh first", file=sys.stderr)
        return 1
    print("| module | mutants | checked | killed | timeout | survived | equivalent | no tests | score |")
    print("|---|---|---|---|---|---|---|---|---|")
    survivors: list[str] = []
    reasons: Counter[str] = Counter()
    for meta in metas:
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        counts: Counter[str] = Counter()
        for name, code in codes.items():
            status = _STATUS.get(code, "not checked" if code is None else "other")
            if status == "survived":
                reason = equivalent(name)
                if reason:
                    status = "equivalent"
                    reasons[reason] += 1
                else:
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
    print("\nEquivalent survivors, by reason:")
    for reason, count in reasons.most_common():
        print(f"- {count}: {reason}")
    print(f"\n{len(survivors)} survivors (mutmut show <name>):")
    for name in survivors:
        print(f"  {name}")
        if show:
            for line in changed_lines(name):
                print(f"      {line.strip()[:150]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
