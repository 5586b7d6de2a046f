package uevent

import "errors"

// Glob reports whether s matches the shell-style pattern, as fnmatch(3)
// without flags matches it (and so udev): '*' any run of bytes, '/'
// included; '?' one byte; "[abc]", "[a-z]" one byte of a set, "[!a-z]"
// (or "[^a-z]") one byte outside it, a ']' first in the set standing for
// itself; '\' makes the next byte literal. A '[' without its ']' is
// literal.
func Glob(pattern, s string) bool {
	// The classic single-star backtracking: on a mismatch, retry from the
	// last '*' with one more byte consumed by it.
	px, sx := 0, 0
	starP, starS := -1, 0
	for sx < len(s) || px < len(pattern) {
		if px < len(pattern) {
			switch c := pattern[px]; c {
			case '*':
				starP, starS = px, sx
				px++
				continue
			case '?':
				if sx < len(s) {
					px++
					sx++
					continue
				}
			case '[':
				if sx < len(s) {
					ok, n, valid := matchClass(pattern[px:], s[sx])
					if !valid {
						// An unclosed '[' is an ordinary byte.
						ok, n = s[sx] == '[', 1
					}
					if ok {
						px += n
						sx++
						continue
					}
				}
			case '\\':
				if px+1 < len(pattern) {
					if sx < len(s) && s[sx] == pattern[px+1] {
						px += 2
						sx++
						continue
					}
					break
				}
				if sx < len(s) && s[sx] == '\\' {
					px++
					sx++
					continue
				}
			default:
				if sx < len(s) && s[sx] == c {
					px++
					sx++
					continue
				}
			}
		}
		if starP >= 0 && starS < len(s) {
			starS++
			px, sx = starP+1, starS
			continue
		}
		return false
	}
	return true
}

// matchClass matches byte c against the bracket expression at the start
// of p ("[...]"). It returns whether c is in the set, the expression's
// length, and whether p holds a complete expression at all.
func matchClass(p string, c byte) (match bool, n int, valid bool) {
	i := 1
	negate := false
	if i < len(p) && (p[i] == '!' || p[i] == '^') {
		negate = true
		i++
	}
	first := true
	for i < len(p) {
		if p[i] == ']' && !first {
			return match != negate, i + 1, true
		}
		first = false
		lo := p[i]
		if lo == '\\' && i+1 < len(p) {
			i++
			lo = p[i]
		}
		i++
		hi := lo
		if i+1 < len(p) && p[i] == '-' && p[i+1] != ']' {
			hi = p[i+1]
			if hi == '\\' && i+2 < len(p) {
				hi = p[i+2]
				i++
			}
			i += 2
		}
		if lo <= c && c <= hi {
			match = true
		}
	}
	return false, 0, false
}

// checkPattern refuses what is legal for fnmatch but almost surely a
// mistake in a rule: a '[' that is never closed, a trailing '\'.
func checkPattern(p string) error {
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			if i+1 == len(p) {
				return errors.New("the pattern ends in a backslash")
			}
			i++
		case '[':
			_, n, valid := matchClass(p[i:], 0)
			if !valid {
				return errors.New("a [ in the pattern has no closing ]")
			}
			i += n - 1
		}
	}
	return nil
}
