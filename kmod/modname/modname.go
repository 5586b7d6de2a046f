// Package modname spells kernel module names the way the kernel and
// libkmod do, and is the one place in modlab that knows how.
//
// A module's name is its file's base name up to the first '.', with every
// '-' made '_': the file snd-hda-intel.ko.xz holds module snd_hda_intel,
// and "snd-hda-intel" and "snd_hda_intel" name the same module wherever a
// name is typed (libkmod's modname_normalize and path_to_modname). An
// alias is spelled the same way except inside bracket expressions, where
// '-' is a range ("pci:v*d[0-9]*"; libkmod's underscores).
package modname

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Normalize turns a module name as a user or a file may spell it into the
// kernel's: '-' becomes '_' and everything from the first '.' on is
// dropped ("snd-hda-intel" and "snd_hda_intel.ko" are "snd_hda_intel").
func Normalize(name string) string {
	if i := strings.IndexByte(name, '.'); i >= 0 {
		name = name[:i]
	}
	return strings.ReplaceAll(name, "-", "_")
}

// FromPath is the name of the module in the module file at path: its base
// name without the directory and the module extension, normalised
// ("/lib/modules/R/kernel/fs/fat/vfat.ko.xz" is "vfat").
func FromPath(path string) string {
	return Normalize(filepath.Base(path))
}

// NormalizeAlias replaces '-' with '_' outside bracket expressions, as
// libkmod does with aliases and with the module names of modprobe.d
// lines. It fails on an unbalanced ']' or an unterminated '['.
func NormalizeAlias(alias string) (string, error) {
	b := []byte(alias)
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '-':
			b[i] = '_'
		case ']':
			return "", fmt.Errorf("invalid alias %q: unbalanced ']'", alias)
		case '[':
			j := strings.IndexByte(alias[i:], ']')
			if j < 0 {
				return "", fmt.Errorf("invalid alias %q: unterminated '['", alias)
			}
			i += j
		}
	}
	return string(b), nil
}
