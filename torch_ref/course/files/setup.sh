#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder's image (Ubuntu 22.04 or later).
# It installs this folder's manual-backprop wheel, and NumPy from the package index, into a virtual
# environment, creates the user that student code runs as when config.json names one (an unprivileged
# "student" unless the teacher chose otherwise), and makes config.json readable by its owner only.
#
# Assumed: python3 ≥ 3.10 with its venv module (Gradescope's Ubuntu images have python3; where the
# venv module is missing and this runs as root, python3-venv is installed with apt-get first).
# No torch: the config's reference is finite differences, unless a teacher changes it.
#
# Outside a container: AUTOGRADER_ROOT (default /autograder) and AUTOGRADER_VENV (default
# $AUTOGRADER_ROOT/venv; kept and updated when it exists) say where; AUTOGRADER_PYTHON which
# python3 makes the environment. pip's own variables (PIP_INDEX_URL, PIP_FIND_LINKS, ...) apply.
set -euo pipefail
source_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="${AUTOGRADER_ROOT:-/autograder}"
venv="${AUTOGRADER_VENV:-$root/venv}"
python="${AUTOGRADER_PYTHON:-python3}"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
unset PYTHONPATH

if ! "$python" -c "import venv, ensurepip" 2> /dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3 python3-venv
    else
        echo "setup.sh: $python with its venv module is needed (apt-get install python3-venv)" >&2
        exit 1
    fi
fi
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
wheels=("$source_dir"/manual_backprop-*.whl)
[ "${#wheels[@]}" = 1 ] && [ -f "${wheels[0]}" ] || { echo "setup.sh: expected one manual_backprop wheel in $source_dir" >&2; exit 1; }
# this wheel, even over an installed one of the same version; then its dependencies from the index
"$venv/bin/python" -m pip install --quiet --force-reinstall --no-deps "${wheels[0]}"
"$venv/bin/python" -m pip install --quiet "${wheels[0]}"

user="$("$venv/bin/python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["user"])' "$source_dir/config.json")"
if [ -n "$user" ] && ! id "$user" > /dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
    else
        echo "setup.sh: not root, so the user $user was not created; student code runs as the grader's user" >&2
    fi
fi
# The config holds the hidden seed: root's alone (as is this folder), so that student code, which runs
# as that user, cannot read it. What the user needs stays readable: the venv (outside this folder), and
# the copy of the submission that the grader makes in a folder of the user's.
chmod 600 "$source_dir/config.json"
chmod 700 "$source_dir"
"$venv/bin/manual-backprop" --version
