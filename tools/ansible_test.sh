#!/usr/bin/env bash
# Run ansible-test on a copy of the collection laid out as ansible_collections/exchange/dr.
#
# ansible-test needs the collection inside an ansible_collections/<namespace>/<name> directory;
# a symlink is not enough (it resolves the working directory to the real path and then finds no
# "ansible_collections" parent).  So the files git knows about (tracked, plus untracked files
# that .gitignore does not exclude) are copied to a temporary tree and ansible-test runs there.
# lab/ is left out: it is the simulator package (own pyproject and tests), not collection content.
#
# Usage:
#   tools/ansible_test.sh sanity                           # every sanity test this machine can run
#   tools/ansible_test.sh sanity --test validate-modules   # options pass through to ansible-test
#   tools/ansible_test.sh units                            # any other ansible-test command
#   KEEP=1 tools/ansible_test.sh sanity                    # keep the temporary tree
#   TRACKED_ONLY=1 tools/ansible_test.sh units             # copy only files git tracks
#
# Every command runs with --local on Python 3.11 (no docker), i.e. in the virtual environment of
# $PYTHON (.venv): "units" runs the collection's tests/unit with that environment's pinned
# packages and ansible-test's pytest plugins, offline; ansible-test's pytest command line needs
# pytest-xdist there (its "-n" option), which requirements/dev.txt pins.
# "sanity" runs with --local on Python 3.11 (no docker).  Tests that need tools this machine has
# not got are skipped: pslint (PowerShell) always, shellcheck when the binary is missing.
# Most sanity tests run in virtual environments ansible-test builds under ~/.ansible/test/venv,
# installing its own pinned tools (pylint, voluptuous, ...) from PyPI on the first run; they are
# ansible-test's, not dependencies of the collection.  ansible-test bootstraps pip in those
# environments with a get-pip.py downloaded from a host outside PyPI; when that script is not
# cached, a stand-in that uses Python's bundled pip (ensurepip) is written to the cache instead.

set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-$repo/.venv/bin/python}"
ansible_test="$(dirname "$python")/ansible-test"
[[ -x "$ansible_test" ]] || { echo "ansible-test not found next to $python (run: make venv)" >&2; exit 1; }

bootstrap_pip_stand_in() {
    local version cache
    version="$("$python" - <<'EOF'
import inspect
import re
from ansible_test._internal import python_requirements
print(re.search(r"pip='([0-9.]+)'", inspect.getsource(python_requirements)).group(1))
EOF
)"
    cache="$HOME/.ansible/test/cache/get_pip_${version//./_}.py"
    [[ -e "$cache" ]] && return 0
    mkdir -p "$(dirname "$cache")"
    cat > "$cache" <<'EOF'
"""Stand-in for pip's get-pip.py, written by exchange.dr tools/ansible_test.sh.

ansible-test downloads get-pip.py from a host outside PyPI; the same result comes from Python's
bundled pip (ensurepip, offline) upgraded from the package index, trusting the system CA bundle
(the bundled pip would otherwise trust only its own certifi copy).
"""
import os
import ssl
import subprocess
import sys

import ensurepip

ensurepip.bootstrap(upgrade=True)
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
paths = ssl.get_default_verify_paths()
bundle = os.environ.get("PIP_CERT") or paths.cafile or paths.openssl_cafile
if bundle and os.path.exists(bundle):
    args = ["--cert", bundle] + args
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install"] + args))
EOF
}

work="$(mktemp -d "${TMPDIR:-/tmp}/exchange-dr-ansible-test.XXXXXX")"
cleanup() { if [[ -z "${KEEP:-}" ]]; then rm -rf "$work"; else echo "kept: $work" >&2; fi; }
trap cleanup EXIT

dest="$work/ansible_collections/exchange/dr"
mkdir -p "$dest"
(
    cd "$repo"
    others=(--others --exclude-standard)
    [[ -n "${TRACKED_ONLY:-}" ]] && others=()
    git ls-files -z --cached "${others[@]+"${others[@]}"}" -- . ':!:lab/**' \
        | while IFS= read -r -d '' file; do [[ -e "$file" ]] && printf '%s\0' "$file"; done \
        | xargs -0 cp --parents -t "$dest"
)
# ansible-test's change detection reads git metadata: give the copy a repository of its own.
git -C "$dest" init -q
git -C "$dest" add -A
git -C "$dest" -c user.name=ansible-test -c user.email=ansible-test@localhost commit -q -m snapshot

command="${1:-sanity}"
shift || true
args=("$@")
if [[ "$command" == sanity ]]; then
    bootstrap_pip_stand_in
    command -v pwsh > /dev/null || args+=(--skip-test pslint)
elif [[ "$command" == units ]]; then
    "$python" -c 'import xdist' 2> /dev/null || {
        echo "ansible-test units needs pytest-xdist in $(dirname "$(dirname "$python")") (requirements/dev.txt)" >&2
        exit 1
    }
fi

cd "$dest"
"$ansible_test" "$command" --python 3.11 --local --color no "${args[@]+"${args[@]}"}"
