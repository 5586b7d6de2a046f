// Package scripts carries the project's shell scripts that the modlab
// binary needs at run time, so that an installed binary works without the
// source tree.
package scripts

import _ "embed"

// Setup is scripts/setup.sh: it installs what the lab needs on Debian
// bookworm (`modlab setup` runs it with bash).
//
//go:embed setup.sh
var Setup string
