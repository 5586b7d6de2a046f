// Package fnmatch matches shell wildcard patterns the way glibc's
// fnmatch(3) does with no flags in the C locale, which is how kmod matches
// module aliases: '*' and '?' also match '/' and a leading '.', brackets take
// '!' or '^' for negation, ranges and [:class:] names, and a backslash quotes
// the next character.
package fnmatch

// Match reports whether name matches pattern.
func Match(pattern, name string) bool {
	p, n := 0, 0
	// Position to resume from after the most recent '*': the pattern index
	// just past it and the name index it currently swallows up to.
	starP, starN := -1, 0
	for n < len(name) || p < len(pattern) {
		if p < len(pattern) {
			switch c := pattern[p]; c {
			case '*':
				for p < len(pattern) && pattern[p] == '*' {
					p++
				}
				starP, starN = p, n
				continue
			case '?':
				if n < len(name) {
					p++
					n++
					continue
				}
			case '[':
				if n < len(name) {
					ok, width, valid := matchBracket(pattern[p:], name[n])
					if !valid {
						// An unterminated bracket is an ordinary '['.
						if name[n] == '[' {
							p++
							n++
							continue
						}
					} else if ok {
						p += width
						n++
						continue
					}
				}
			case '\\':
				// A trailing backslash matches nothing, as in glibc.
				if p+1 < len(pattern) && n < len(name) && name[n] == pattern[p+1] {
					p += 2
					n++
					continue
				}
			default:
				if n < len(name) && name[n] == c {
					p++
					n++
					continue
				}
			}
		}
		if starP >= 0 && starN < len(name) {
			starN++
			p, n = starP, starN
			continue
		}
		return false
	}
	return true
}

// matchBracket matches c against the bracket expression at the start of
// pat (pat[0] == '['). It returns whether c matched, the width of the
// expression, and whether the expression was terminated at all.
func matchBracket(pat string, c byte) (matched bool, width int, valid bool) {
	i := 1
	negate := false
	if i < len(pat) && (pat[i] == '!' || pat[i] == '^') {
		negate = true
		i++
	}
	first := true
	for i < len(pat) {
		ch := pat[i]
		if ch == ']' && !first {
			return matched != negate, i + 1, true
		}
		first = false
		if ch == '[' && i+1 < len(pat) && pat[i+1] == ':' {
			if end := indexFrom(pat, i+2, ":]"); end >= 0 {
				if classMatch(pat[i+2:end], c) {
					matched = true
				}
				i = end + 2
				continue
			}
		}
		lo := ch
		if ch == '\\' && i+1 < len(pat) {
			i++
			lo = pat[i]
		}
		i++
		hi := lo
		if i+1 < len(pat) && pat[i] == '-' && pat[i+1] != ']' {
			hi = pat[i+1]
			i += 2
			if hi == '\\' && i < len(pat) {
				hi = pat[i]
				i++
			}
		}
		if lo <= c && c <= hi {
			matched = true
		}
	}
	return false, 0, false
}

func indexFrom(s string, from int, sub string) int {
	for i := from; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func classMatch(class string, c byte) bool {
	switch class {
	case "alnum":
		return isAlpha(c) || isDigit(c)
	case "alpha":
		return isAlpha(c)
	case "blank":
		return c == ' ' || c == '\t'
	case "cntrl":
		return c < 0x20 || c == 0x7f
	case "digit":
		return isDigit(c)
	case "graph":
		return c > 0x20 && c < 0x7f
	case "lower":
		return c >= 'a' && c <= 'z'
	case "print":
		return c >= 0x20 && c < 0x7f
	case "punct":
		return c > 0x20 && c < 0x7f && !isAlpha(c) && !isDigit(c)
	case "space":
		return c == ' ' || (c >= '\t' && c <= '\r')
	case "upper":
		return c >= 'A' && c <= 'Z'
	case "xdigit":
		return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
	}
	return false
}

func isAlpha(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
