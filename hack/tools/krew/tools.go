//go:build tools

// Package tools pins krew's commands, which `make krew-bin` builds from this
// module: krew itself (installed as kubectl-krew) and validate-krew-manifest,
// the validator krew's plugin index runs on every manifest.
package tools

import (
	_ "sigs.k8s.io/krew/cmd/krew"
	_ "sigs.k8s.io/krew/cmd/validate-krew-manifest"
)
