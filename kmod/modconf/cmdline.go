package modconf

import "strings"

// cmdlineMax is the size of kmod's buffer for /proc/cmdline.
const cmdlineMax = 4096

// ParseCmdline adds the module options of a kernel command line:
// "module.param=value" becomes an options entry for module (quoted values
// may hold spaces; a quote around the whole word, as some boot loaders
// write it, is moved to the value) and "modprobe.blacklist=a,b" adds
// blacklist entries. Words that are not of that shape are skipped, exactly
// as libkmod skips them.
func (c *Config) ParseCmdline(cmdline string) {
	const (
		stIgnore = iota
		stModname
		stParam
		stValue
		stComplete
	)
	buf := append([]byte(cmdline), 0)
	if i := strings.IndexByte(cmdline, 0); i >= 0 {
		buf = buf[:i+1]
	}
	cstr := func(i int) string {
		if i < 0 {
			return ""
		}
		end := i
		for end < len(buf) && buf[end] != 0 {
			end++
		}
		return string(buf[i:end])
	}
	state := stModname
	quoteStart := -1
	modname, param, value := 0, -1, -1
	quoted := false
	for p, iter := 0, true; iter; p++ {
		switch buf[p] {
		case '"':
			quoted = !quoted
			if quoted && state == stModname && p == modname {
				quoteStart = p
				modname = p + 1
			} else if state != stValue {
				state = stIgnore
			}
		case 0, ' ', '\n', '\t', '\v', '\f', '\r':
			if buf[p] == 0 {
				iter = false
			}
			switch {
			case quoted && state == stValue:
			case quoted:
				state = stIgnore
			case state == stValue || state == stParam:
				buf[p] = 0
				state = stComplete
			default:
				modname = p + 1
				state = stModname
				quoteStart = -1
			}
		case '.':
			if state == stModname {
				buf[p] = 0
				param = p + 1
				state = stParam
			} else if state == stParam {
				state = stIgnore
			}
		case '=':
			if state == stParam {
				value = p + 1
				state = stValue
			} else if state == stModname {
				state = stIgnore
			}
		}
		if state == stComplete {
			if quoteStart >= 0 && quoteStart < modname && value > modname {
				// Move `"mod\0param=` one byte left over the
				// opening quote and put the quote after '='.
				copy(buf[quoteStart:], buf[modname:value])
				value--
				modname--
				param--
				buf[value] = '"'
			}
			c.cmdlineResult(cstr(modname), cstr(param), param >= 0)
			modname = p + 1
			state = stModname
			quoteStart = -1
		}
	}
}

func (c *Config) cmdlineResult(modname, param string, haveParam bool) {
	if !haveParam {
		return
	}
	if modname == "modprobe" && strings.HasPrefix(param, "blacklist=") {
		for _, m := range strings.Split(param[len("blacklist="):], ",") {
			c.Blacklist = append(c.Blacklist, m)
		}
		return
	}
	mod, ok := underscores(modname)
	if !ok {
		c.warn("/proc/cmdline", 0, "ignoring bad option on kernel command line while parsing module name: '%s'", modname)
		return
	}
	c.Options = append(c.Options, Options{Module: mod, Options: strings.ReplaceAll(param, "\t", " ")})
}
