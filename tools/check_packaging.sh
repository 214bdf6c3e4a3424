#!/usr/bin/env bash
# Packaging, docs and changelog checks of the collection (issue 9), offline:
#   1. changelog: `antsibull-changelog lint` (every fragment) and `lint-changelog-yaml`; fragments not yet
#      released into CHANGELOG.rst are listed (not an error: see "Changelog" below);
#   2. artifact: `ansible-galaxy collection build` of the working tree, checked for what an execution
#      environment needs (meta/execution-environment.yml, requirements/runtime.txt, bindep.txt) and for
#      what must stay out (lab/, tests/, requirements/dev.*), then installed into a scratch collections path;
#   3. execution environment: `ansible-builder introspect` of that install (what ansible-builder adds to
#      any image that installs exchange.dr) and `ansible-builder create` of meta/execution-environment.yml
#      (copied next to galaxy.yml, where its paths point) into a scratch context - no image is built; the
#      context must hold the requirements, the bindep file and a Containerfile that installs both;
#   4. docs: `antsibull-docs lint-collection-docs --plugin-docs --check-extra-docs-refs` on the working tree
#      (every module, plugin and role that exists when it runs, and docs/docsite), then the docs site:
#      `antsibull-docs sphinx-init` + `antsibull-docs collection` + `sphinx-build -W` into build/docsite/html.
#      Sphinx runs offline: links to Ansible's own docs (return values, configuration, ansible.builtin)
#      resolve through a small local intersphinx inventory written here, with docs.ansible.com addresses.
#
# Changelog: fragments go to changelogs/fragments/; the release entry is written by
#   .venv/bin/antsibull-changelog release --version 0.1.0 --date 2026-11-25 --reload-plugins
# Running it again with the same version and date adds the fragments that arrived since to the 0.1.0
# entry of changelogs/changelog.yaml, deletes them (keep_fragments: false) and regenerates CHANGELOG.rst.
#
# Usage: tools/check_packaging.sh   (PYTHON=/path/to/python to use another virtual environment;
#        KEEP_WORK=1 keeps the scratch directory and prints it)
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-$repo/.venv/bin/python}"
bin="$(cd "$(dirname "$python")" && pwd)"
export PATH="$bin:$PATH" ANSIBLE_NOCOLOR=1 ANSIBLE_DEPRECATION_WARNINGS=false
started=$SECONDS

work="$(mktemp -d "${TMPDIR:-/tmp}/exchange-dr-packaging.XXXXXX")"
chmod 700 "$work"
if [[ -n "${KEEP_WORK:-}" ]]; then echo "scratch: $work"; else trap 'rm -rf "$work"' EXIT; fi
export ANSIBLE_HOME="$work/ansible-home" ANSIBLE_LOCAL_TEMP="$work/ansible-tmp"

fail() { echo "check_packaging: FAIL: $*" >&2; exit 1; }
failed=()  # steps that failed but let the next ones run (their messages are above)
step() { echo "== $*"; }

# 1. changelog ---------------------------------------------------------------------------------------
step "changelog: antsibull-changelog lint"
(cd "$repo" && antsibull-changelog lint && antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml)
pending=()
for fragment in "$repo"/changelogs/fragments/*.y*ml; do
    [[ -e "$fragment" ]] || continue
    name="$(basename "$fragment")"
    grep -qxF -- "    - $name" "$repo/changelogs/changelog.yaml" || pending+=("$name")
done
if ((${#pending[@]})); then
    echo "changelog: ${#pending[@]} fragment(s) not yet in CHANGELOG.rst (${pending[*]});" \
        "release them with: antsibull-changelog release --version 0.1.0 --date 2026-11-25 --reload-plugins"
fi

# 2. artifact ----------------------------------------------------------------------------------------
step "artifact: ansible-galaxy collection build"
ansible-galaxy collection build "$repo" --output-path "$work/dist" >/dev/null
tarball="$(ls "$work"/dist/exchange-dr-*.tar.gz)"
tar -tzf "$tarball" | sed 's|^\./||' | sort > "$work/artifact-files.txt"
for required in MANIFEST.json FILES.json meta/runtime.yml meta/execution-environment.yml \
    requirements/runtime.txt bindep.txt docs/docsite/extra-docs.yml docs/docsite/links.yml \
    changelogs/changelog.yaml CHANGELOG.rst; do
    grep -qxF "$required" "$work/artifact-files.txt" || fail "$required is missing from the collection artifact"
done
if grep -E '^(lab|tests|bench|tools|\.venv|\.ci|requirements/dev\.(in|txt))(/|$)' "$work/artifact-files.txt"; then
    fail "development files (above) are in the collection artifact: extend build_ignore in galaxy.yml"
fi
ANSIBLE_COLLECTIONS_PATH="$work/collections" ansible-galaxy collection install --offline -p "$work/collections" "$tarball" >/dev/null
installed="$work/collections/ansible_collections/exchange/dr"
[[ -f "$installed/MANIFEST.json" ]] || fail "the artifact did not install"

# 3. execution environment ---------------------------------------------------------------------------
step "execution environment: ansible-builder introspect"
ansible-builder introspect --sanitize "$work/collections" > "$work/introspect.yml"
"$python" - "$work/introspect.yml" "$repo" <<'EOF'
import sys, yaml
data = yaml.safe_load(open(sys.argv[1]))
repo = sys.argv[2]
def lines(path):
    return [l.strip() for l in open(path) if l.strip() and not l.lstrip().startswith("#")]
want_py = {l.split("==")[0].split("[")[0].lower() for l in lines(f"{repo}/requirements/runtime.txt")}
got_py = {e.split("#")[0].strip().split("==")[0].split("[")[0].lower() for e in data.get("python", [])}
missing = want_py - got_py
if missing or not {"pypsrp", "jmespath"} <= got_py:
    sys.exit(f"introspect: python requirements of exchange.dr missing: {sorted(missing or want_py)}")
want_sys = {l.split("[")[0].strip() for l in lines(f"{repo}/bindep.txt")}
got_sys = {e.split("[")[0].strip() for e in data.get("system", [])}
if want_sys - got_sys:
    sys.exit(f"introspect: bindep entries of exchange.dr missing: {sorted(want_sys - got_sys)}")
print(f"introspect: {len(data['python'])} python and {len(data['system'])} system requirements from exchange.dr")
EOF

step "execution environment: ansible-builder create"
cp "$installed/meta/execution-environment.yml" "$installed/execution-environment.yml"
ansible-builder create -f "$installed/execution-environment.yml" -c "$work/context" \
    --output-filename Containerfile -v 1 >/dev/null
context="$work/context"
[[ -f "$context/Containerfile" ]] || fail "ansible-builder create wrote no Containerfile"
cmp -s "$context/_build/requirements.txt" "$repo/requirements/runtime.txt" \
    || fail "build context: _build/requirements.txt is not requirements/runtime.txt"
cmp -s "$context/_build/bindep.txt" "$repo/bindep.txt" || fail "build context: _build/bindep.txt is not bindep.txt"
[[ -f "$context/_build/requirements.yml" ]] || fail "build context: no galaxy requirements.yml"
for pattern in 'COPY _build /build' 'introspect' 'assemble' 'ansible-galaxy collection install'; do
    grep -q -- "$pattern" "$context/Containerfile" || grep -rq -- "$pattern" "$context/_build/scripts" \
        || fail "build context: the Containerfile has no '$pattern' step"
done
echo "create: $(find "$context" -type f | wc -l) files in the build context, Containerfile and _build/{requirements.txt,bindep.txt,requirements.yml}"

# 4. docs --------------------------------------------------------------------------------------------
step "docs: antsibull-docs lint-collection-docs --plugin-docs"
(cd "$repo" && antsibull-docs lint-collection-docs --plugin-docs --check-extra-docs-refs \
    --validate-collection-refs self .) || failed+=("antsibull-docs lint-collection-docs")

step "docs: antsibull-docs site (offline sphinx-build -W)"
site="$work/site"
mkdir -m 700 "$site"
ANSIBLE_COLLECTIONS_PATH="$work/collections" antsibull-docs sphinx-init --use-current --squash-hierarchy \
    --dest-dir "$site" --project exchange.dr --title "exchange.dr" --html-short-title "exchange.dr" \
    --copyright "exchange.dr contributors" --fail-on-error exchange.dr > "$work/sphinx-init.log" \
    || { cat "$work/sphinx-init.log"; fail "antsibull-docs sphinx-init"; }
mkdir -p "$site/rst" && chmod 700 "$site/rst"
# A plugin whose documentation does not parse fails this step (lint-collection-docs above names it).
if ! ANSIBLE_COLLECTIONS_PATH="$work/collections" antsibull-docs --config-file "$site/antsibull-docs.cfg" \
    collection --use-current --squash-hierarchy --fail-on-error --dest-dir "$site/rst" exchange.dr \
    > "$work/collection.log" 2>&1; then
    cat "$work/collection.log"
    fail "${failed[*]:+${failed[*]}, }antsibull-docs collection (after $((SECONDS - started)) s)"
fi
# Offline intersphinx: the references the generated plugin pages make to Ansible's own docs (not the
# guides': theirs must resolve inside the site) go to a local inventory with docs.ansible.com targets.
"$python" - "$site" <<'EOF'
import pathlib, re, sys, zlib
site = pathlib.Path(sys.argv[1])
rst = site / "rst"
defined = set()
refs, envvars = set(), set()
for page in rst.rglob("*.rst"):
    text = page.read_text()
    defined |= set(re.findall(r"^\.\. _([^:]+):\s*$", text, re.M))
    if "docsite" in page.relative_to(rst).parts:
        continue
    for body in re.findall(r":ref:`([^`]+)`", text):
        target = re.search(r"<([^<>]+)>\s*$", body)
        refs.add(target[1] if target else body.strip())
    envvars |= {v.replace("\\", "") for v in re.findall(r":envvar:`([A-Z0-9_\\]+)`", text)}
known = {
    "common_return_values": "reference_appendices/common_return_values.html#common-return-values",
    "ansible_configuration_settings": "reference_appendices/config.html#ansible-configuration-settings",
    "module_defaults": "playbook_guide/playbooks_module_defaults.html#module-defaults",
    "action_groups": "playbook_guide/playbooks_module_defaults.html#module-defaults-groups",
    "check_mode_dry": "playbook_guide/playbooks_checkmode.html#check-mode-dry",
}
entries = []
own = "ansible_collections.exchange.dr."  # this collection's labels must resolve inside the site
for label in sorted(l.lower() for l in refs if l.lower() not in {d.lower() for d in defined}):
    if label.startswith(own):
        continue
    if label in known:
        uri = known[label]
    else:
        m = re.fullmatch(r"ansible_collections\.ansible\.builtin\.(\w+)_(\w+)", label)
        uri = (f"collections/ansible/builtin/{m[1]}_{m[2]}.html#{label.replace('.', '-').replace('_', '-')}"
               if m else f"search.html?q={label}")
    entries.append(f"{label} std:label -1 {uri} {label}")
for name in sorted(envvars):
    entries.append(f"{name} std:envvar 1 reference_appendices/config.html#envvar-$ -")
header = "# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n" \
         "# The remainder of this file is compressed using zlib.\n"
(site / "ansible_devel.inv").write_bytes(header.encode() + zlib.compress(("\n".join(entries) + "\n").encode()))
conf = site / "conf.py"
text = conf.read_text()
start = text.index("intersphinx_mapping = {")
end = text.index("\n}\n", start) + 3
conf.write_text(text[:start] + "intersphinx_mapping = {\n    'ansible_devel': ('https://docs.ansible.com/projects/ansible/devel/', "
                 "(str(__import__('pathlib').Path(__file__).parent / 'ansible_devel.inv'),)),\n}\n" + text[end:])
print(f"site: {len(entries)} references to Ansible's docs resolved offline")
EOF
rm -rf "$repo/build/docsite"
sphinx-build -q -b html -c "$site" -W --keep-going -d "$work/doctrees" "$site/rst" "$repo/build/docsite/html"
for page in index exchange_info_module docsite/guide_kerberos; do
    [[ -f "$repo/build/docsite/html/$page.html" ]] || fail "docs site: $page.html was not built"
done
echo "site: $(find "$repo/build/docsite/html" -name '*.html' | wc -l) pages in build/docsite/html (open index.html)"

if ((${#failed[@]})); then
    fail "${failed[*]} (after $((SECONDS - started)) s)"
fi
echo "tools/check_packaging.sh: ok in $((SECONDS - started)) s"
