#!/usr/bin/env bash
# Mutation testing of the core and the scheduler: `bash tools/mutation.sh` (after the Quickstart).
# Not part of CI: over an hour on 2 cores. Config: [tool.mutmut] in pyproject.toml (which modules,
# which fast tests; the 10**6-step oracles are marked slow and skipped). Prints killed / survived per
# module (tools/mutation_table.py) and leaves mutmut's state in mutants/ for `mutmut results`,
# `mutmut show <name>` and `mutmut apply <name>`.
#
# Arguments are mutant names or globs (`bash tools/mutation.sh "bounded_lr_resolver.resolvers.*"`).
# VENV=.venv14 runs them on the hydra-core 1.4 / OmegaConf 2.4 stack (the resolvers' 2.4 branch);
# a mutant the first run killed stays killed (CI runs the suite on both stacks).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${VENV:-.venv}"
"$venv/bin/pip" install -q mutmut==3.8.1
earlier=$(mktemp -d)
trap 'rm -rf "$earlier"' EXIT
if [ "$venv" != .venv ] && [ -d mutants/bounded_lr_resolver ]; then
    cp mutants/bounded_lr_resolver/*.meta "$earlier"/
fi
export BOUNDED_LR_MUTATION=1  # tests/conftest.py: fixed hypothesis examples, fewer of them
"$venv/bin/mutmut" run --max-children "${JOBS:-2}" "$@" >/dev/null || true
.venv/bin/python tools/mutation_table.py --keep-kills "$earlier"
