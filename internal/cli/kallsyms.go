package cli

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/modlab/modlab/kmod/kallsyms"
)

const kallsymsHelp = `Usage:
	kallsyms [options] NAME|MODULE:NAME|0xADDRESS ...
Look symbols up in /proc/kallsyms.
  NAME           print every symbol of that name: address, type, name [module]
  MODULE:NAME    only the symbol of that module (vmlinux: the kernel itself)
  0xADDRESS      print the symbol at or below the address: name+0xoff/0xsize [module]
Options:
	    --json        print a JSON array, one object per query
	-h, --help        show this help
`

// kallsymsResult is one answer, as --json prints it.
type kallsymsResult struct {
	Query   string `json:"query"`
	Address string `json:"address,omitempty"`
	Type    string `json:"type,omitempty"`
	Name    string `json:"name,omitempty"`
	Module  string `json:"module,omitempty"`
	// For address queries: where the address falls.
	Offset *string `json:"offset,omitempty"`
	Size   *string `json:"size,omitempty"`
	Error  string  `json:"error,omitempty"`
}

// runKallsyms looks symbols up by name or address in <root>/proc/kallsyms.
func runKallsyms(env *Env, args []string) error {
	t := newTool(env, toolSpec{name: "kallsyms", help: kallsymsHelp, usage: modlabUsage})
	var jsonOut bool
	t.flags.BoolVar(&jsonOut, "json", false, "")
	if done, err := t.parse(args); done {
		return err
	}
	if t.flags.NArg() == 0 {
		return t.badUsage("missing symbol name or address")
	}
	tab, err := kallsyms.Load(env.Path("/proc"))
	if err != nil {
		t.log.errorf("read symbols: %v", err)
		return &ExitError{Code: 1}
	}
	hidden := tab.Hidden()
	var results []kallsymsResult
	failed := false
	warned := false
	for _, q := range t.flags.Args() {
		if addr, ok := parseAddress(q); ok {
			r := kallsymsResult{Query: q}
			loc, found := tab.Addr(addr)
			switch {
			case hidden:
				r.Error = "addresses in /proc/kallsyms are hidden: run as root, or set /proc/sys/kernel/kptr_restrict to 0 or 1"
			case !found:
				r.Error = "no symbol at or below this address"
			default:
				r.Address = fmt.Sprintf("0x%016x", loc.Symbol.Addr)
				r.Type = string(loc.Symbol.Type)
				r.Name = loc.Symbol.Name
				r.Module = loc.Symbol.Module
				off := fmt.Sprintf("%#x", loc.Offset)
				r.Offset = &off
				if loc.Size > 0 {
					sz := fmt.Sprintf("%#x", loc.Size)
					r.Size = &sz
				}
			}
			if r.Error != "" {
				failed = true
				if !jsonOut {
					t.log.errorf("%s: %s", q, r.Error)
				}
			} else if !jsonOut {
				fmt.Fprintln(env.Stdout, loc.String())
			}
			results = append(results, r)
			continue
		}
		syms := tab.Lookup(q)
		if len(syms) == 0 {
			failed = true
			results = append(results, kallsymsResult{Query: q, Error: "no such symbol"})
			if !jsonOut {
				t.log.errorf("%s: no such symbol", q)
			}
			continue
		}
		if hidden && !warned && !jsonOut {
			t.log.warnf("addresses in /proc/kallsyms are hidden (they read as 0): run as root, or set /proc/sys/kernel/kptr_restrict to 0 or 1")
			warned = true
		}
		for _, s := range syms {
			if !jsonOut {
				fmt.Fprintln(env.Stdout, s.String())
			}
			results = append(results, kallsymsResult{Query: q, Address: fmt.Sprintf("0x%016x", s.Addr),
				Type: string(s.Type), Name: s.Name, Module: s.Module})
		}
	}
	if jsonOut {
		b, err := json.MarshalIndent(results, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "%s\n", b)
	}
	if failed {
		return &ExitError{Code: 1}
	}
	return nil
}

// parseAddress reads "0x..." (hexadecimal) as an address.
func parseAddress(s string) (uint64, bool) {
	h, ok := strings.CutPrefix(strings.ToLower(s), "0x")
	if !ok || h == "" {
		return 0, false
	}
	v, err := strconv.ParseUint(h, 16, 64)
	return v, err == nil
}
