#!/usr/bin/env bash
# Print the path of a Python interpreter of version $1 (e.g. 3.10): from PATH first,
# then from pyenv. Exits non-zero with advice when there is none.
set -euo pipefail
version="$1"
for candidate in "python${version}" "python3"; do
    if path="$(command -v "$candidate" 2>/dev/null)" \
        && "$path" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '${version}'.split('.'))))" 2>/dev/null; then
        echo "$path"
        exit 0
    fi
done
if command -v pyenv >/dev/null 2>&1; then
    root="$(pyenv root)"
    for dir in $(ls -d "$root/versions/${version}"* 2>/dev/null | sort -V -r); do
        if [ -x "$dir/bin/python${version}" ]; then
            echo "$dir/bin/python${version}"
            exit 0
        fi
    done
fi
cat >&2 <<MSG
Python ${version} was not found on PATH or through pyenv.
Install it, for example:
    pyenv install ${version}        (then run make again)
or on Debian/Ubuntu:
    apt-get install python${version} python${version}-venv
MSG
exit 1
