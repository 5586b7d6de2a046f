package moddir

import (
	"bytes"
	"fmt"
	"os"
)

// BuiltinModinfo returns the modinfo strings ("key=value", in file order)
// of a builtin module from modules.builtin.modinfo, like libkmod's
// kmod_builtin_get_modinfo: the first run of consecutive entries whose
// module prefix is name. A module the file does not list gives nil and no
// error; a missing file gives an error wrapping fs.ErrNotExist.
func (d *Dir) BuiltinModinfo(name string) ([]string, error) {
	path := d.File(BuiltinModinfo)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseBuiltinModinfo(path, data, name)
}

func parseBuiltinModinfo(path string, data []byte, name string) ([]string, error) {
	var out []string
	found := false
	for off := 0; off < len(data); {
		end := bytes.IndexByte(data[off:], 0)
		var s []byte
		if end < 0 {
			s = data[off:]
			end = len(data) - off
		} else {
			s = data[off : off+end]
		}
		start := off
		off += end + 1
		if len(s) == 0 {
			// kmod would read an empty string as the end of a block
			// without a module prefix; skip padding quietly.
			continue
		}
		dot := bytes.IndexByte(s, '.')
		if dot < 0 {
			return nil, fmt.Errorf("%s: offset %d: string without a module prefix: %q", path, start, s)
		}
		if string(s[:dot]) == name {
			found = true
			out = append(out, string(s[dot+1:]))
		} else if found {
			break
		}
	}
	return out, nil
}
