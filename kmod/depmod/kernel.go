package depmod

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// addKernelSymbol records a symbol the kernel itself exports (no owner).
func (d *Depmod) addKernelSymbol(name string, crc uint64) {
	d.symbols[name] = &symbol{name: name, crc: crc}
}

// addFakeSymbols adds the symbols the module loader provides itself.
func (d *Depmod) addFakeSymbols() {
	d.addKernelSymbol("__this_module", 0)
	d.addKernelSymbol("_GLOBAL_OFFSET_TABLE_", 0)
	if d.symbols["TOC."] == nil {
		d.addKernelSymbol("TOC.", 0)
	}
}

// loadSymvers reads a Module.symvers: "0xCRC<TAB>symbol<TAB>vmlinux<TAB>...".
func (d *Depmod) loadSymvers(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("could not load %s: %w", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	num := 0
	for sc.Scan() {
		num++
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 || fields[2] != "vmlinux" {
			continue
		}
		crc, err := strconv.ParseUint(strings.TrimPrefix(fields[0], "0x"), 16, 64)
		if err != nil {
			d.warn("%s:%d: invalid symbol version %s", path, num, fields[0])
			continue
		}
		name := fields[1]
		if d.opts.SymbolPrefix != 0 && name != "" && name[0] == d.opts.SymbolPrefix {
			name = name[1:]
		}
		d.addKernelSymbol(name, crc)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s:%d: %w", path, num+1, err)
	}
	d.addFakeSymbols()
	return nil
}

// loadSystemMap reads a System.map: "ADDR TYPE __ksymtab_NAME" lines.
func (d *Depmod) loadSystemMap(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("could not load %s: %w", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	num := 0
	for sc.Scan() {
		num++
		line := sc.Text()
		_, rest, ok1 := strings.Cut(line, " ")
		_, sym, ok2 := strings.Cut(rest, " ")
		if !ok1 || !ok2 {
			d.warn("%s:%d: invalid line: %s", path, num, line)
			continue
		}
		if d.opts.SymbolPrefix != 0 && sym != "" && sym[0] == d.opts.SymbolPrefix {
			sym = sym[1:]
		}
		if name, ok := strings.CutPrefix(sym, "__ksymtab_"); ok {
			d.addKernelSymbol(name, 0)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s:%d: %w", path, num+1, err)
	}
	d.addFakeSymbols()
	return nil
}

// UpToDate reports whether modules.dep in the module directory is at
// least as new as every module file (depmod -A skips its work then).
func UpToDate(baseDir, release string) bool {
	dir := baseDir + "/lib/modules/" + release
	st, err := os.Stat(dir + "/modules.dep")
	if err != nil {
		return false
	}
	mtime := st.ModTime().Unix()
	newer := false
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || newer {
			return nil
		}
		if e.IsDir() && (e.Name() == "build" || e.Name() == "source") && p != dir {
			return filepath.SkipDir
		}
		if !e.IsDir() && hasModuleExt(e.Name()) {
			if info, err := os.Stat(p); err == nil && info.ModTime().Unix() > mtime {
				newer = true
			}
		}
		return nil
	})
	return !newer
}
