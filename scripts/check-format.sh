#!/bin/sh
# Fails when a C file of src/ differs from what .clang-format produces
# (`make format` fixes it).
cd "$(dirname "$0")/.." || exit 1
command -v clang-format >/dev/null || { echo "check-format: clang-format missing" >&2; exit 1; }
bad=0
for f in $(find src -name '*.[ch]' | sort); do
	if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
		echo "check-format: $f is not formatted (run make format)" >&2
		bad=1
	fi
done
[ "$bad" -eq 0 ] && echo "check-format: ok"
exit "$bad"
