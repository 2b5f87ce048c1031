#!/usr/bin/env bash
# Fails when `make manifests generate` changed the tree: generated files
# (CRDs, RBAC, deepcopy) must be regenerated and committed together with the
# code they come from. Compares the working tree's state before and after the
# generators ran, so it also works on a tree with uncommitted edits.
set -euo pipefail
state() { { git status --porcelain=v1 --untracked-files=all; git diff; } | sha256sum; }
before=$(state)
"$@"
after=$(state)
if [ "$before" != "$after" ]; then
  echo "error: 'make manifests generate' changed these files; run it and commit the result:" >&2
  git status --short >&2
  exit 1
fi
