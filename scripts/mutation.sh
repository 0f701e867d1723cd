#!/usr/bin/env bash
# Mutation testing (mutmut, configured in pyproject.toml's [tool.mutmut]): plants one small bug
# at a time in iars/selection.py, callbacks.py, losses.py, augment.py and the normalisation of
# iars/data/arrays.py, and runs the fast tests that cover each. A mutant that no test kills is a gap.
# Hours on 2 cores for everything; name modules to narrow it, e.g.
#   scripts/mutation.sh "iars.selection*" "iars.callbacks*"
# then `mutmut results` lists the survivors and `mutmut show <name>` shows one. Not run in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$#" -eq 0 ]; then
  set -- "iars.selection*" "iars.callbacks*" "iars.losses*" "iars.augment*" "iars.data.arrays.xǁNormaliserǁ*"
fi
mutmut run --max-children "${MUTMUT_CHILDREN:-1}" "$@"
mutmut results
