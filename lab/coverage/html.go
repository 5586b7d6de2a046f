package coverage

import (
	"bytes"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strings"
)

// Pages are what WriteHTML wrote.
type Pages struct {
	Index string            // the index page
	Files map[string]string // each source file's page, by File.Source
}

// WriteHTML writes an index page (dir/index.html: every file with its
// figures, linking to its page) and a page per source file
// (dir/files/REL.html: every line of the source with its count,
// coloured: ran, never ran, or ran with a branch never taken). The pages
// need nothing but themselves: no scripts, no network. title heads the
// index, lcov (a path relative to dir, or "") is linked from it.
func WriteHTML(dir, title, lcov string, files []*File) (Pages, error) {
	p := Pages{Index: filepath.Join(dir, IndexName), Files: map[string]string{}}
	idx := indexPage{Title: title, LCOV: lcov}
	for _, f := range files {
		rel := pageName(f)
		path := filepath.Join(dir, "files", rel)
		up, _ := filepath.Rel(filepath.Dir(path), p.Index)
		page, err := sourcePage(f, title, filepath.ToSlash(up))
		if err != nil {
			return p, err
		}
		if err := writeFile(path, page); err != nil {
			return p, err
		}
		p.Files[f.Source] = path
		row := summaryRow{Name: f.Rel, Link: filepath.ToSlash(filepath.Join("files", rel)),
			Lines: f.LineCounts(), Functions: f.FunctionCounts(), Branches: f.BranchCounts()}
		idx.Rows = append(idx.Rows, row)
		idx.Total.Lines.add(row.Lines)
		idx.Total.Functions.add(row.Functions)
		idx.Total.Branches.add(row.Branches)
	}
	idx.Total.Name = "total"
	var b bytes.Buffer
	if err := indexTmpl.Execute(&b, idx); err != nil {
		return p, fmt.Errorf("index page: %w", err)
	}
	return p, writeFile(p.Index, b.Bytes())
}

// pageName is a file's page under files/: its path in the user's folder
// with .html added (its base name if that path leaves the folder).
func pageName(f *File) string {
	rel := filepath.FromSlash(f.Rel)
	if !filepath.IsLocal(rel) {
		rel = filepath.Base(f.Source)
	}
	return rel + ".html"
}

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

type summaryRow struct {
	Name, Link                 string
	Lines, Functions, Branches Counts
}

type indexPage struct {
	Title, LCOV string
	Rows        []summaryRow
	Total       summaryRow
}

type filePage struct {
	Title, Up, Source, Rel, Note string
	Summary                      summaryRow
	Functions                    []Function
	Rows                         []sourceRow
}

type sourceRow struct {
	N      int
	Class  string // "hit", "miss", "part" (a branch never taken) or "" (no code)
	Count  string
	Branch string // "taken/total" when the line branches
	Detail string // each branch's count
	Text   string
}

// sourcePage renders one file's page: the source as it is now in the
// user's folder, with the counts of its executable lines.
func sourcePage(f *File, title, up string) ([]byte, error) {
	pg := filePage{Title: title, Up: up, Source: f.Source, Rel: f.Rel, Functions: f.Functions,
		Summary: summaryRow{Lines: f.LineCounts(), Functions: f.FunctionCounts(), Branches: f.BranchCounts()}}
	src, err := os.ReadFile(f.Source)
	if err != nil {
		pg.Note = fmt.Sprintf("The source could not be read (%v): only the line numbers are shown.", err)
	}
	text := strings.Split(strings.TrimSuffix(string(src), "\n"), "\n")
	if len(src) == 0 {
		text = nil
	}
	exec := make(map[int]Line, len(f.Lines))
	last := len(text)
	for _, l := range f.Lines {
		exec[l.Number] = l
		last = max(last, l.Number)
	}
	if err == nil && last > len(text) {
		pg.Note = "The source has fewer lines than the code that was run: it changed since the build."
	}
	for n := 1; n <= last; n++ {
		row := sourceRow{N: n}
		if n <= len(text) {
			row.Text = strings.TrimSuffix(text[n-1], "\r")
		}
		if l, ok := exec[n]; ok {
			row.Count = fmt.Sprint(l.Count)
			row.Class = "hit"
			if l.Count == 0 {
				row.Class, row.Count = "miss", "0"
			}
			if len(l.Branches) > 0 {
				taken := 0
				var each []string
				for _, b := range l.Branches {
					if b > 0 {
						taken++
					}
					each = append(each, fmt.Sprint(b))
				}
				row.Branch = fmt.Sprintf("%d/%d", taken, len(l.Branches))
				row.Detail = "branches taken: " + strings.Join(each, ", ")
				if row.Class == "hit" && taken < len(l.Branches) {
					row.Class = "part"
				}
			}
		}
		pg.Rows = append(pg.Rows, row)
	}
	var b bytes.Buffer
	if err := fileTmpl.Execute(&b, pg); err != nil {
		return nil, fmt.Errorf("page of %s: %w", f.Rel, err)
	}
	return b.Bytes(), nil
}

var funcs = template.FuncMap{
	"pct": func(c Counts) string {
		if c.Found == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f%%", c.Percent())
	},
	"width": func(c Counts) string { return fmt.Sprintf("%.0f", c.Percent()) },
}

const style = `<style>
body{font-family:sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em}h2{font-size:1.1em}
table{border-collapse:collapse}
th,td{padding:.15em .6em;text-align:left}
.sum td,.sum th{border-bottom:1px solid #ddd}
.num{text-align:right;font-variant-numeric:tabular-nums}
.bar{width:8em;background:#f4c7c3;height:.8em;display:inline-block}
.bar span{background:#7cc47c;height:100%;display:block}
.total td{font-weight:bold}
table.src{font-family:monospace;font-size:13px}
table.src td{padding:0 .5em;white-space:pre;tab-size:8;-moz-tab-size:8}
table.src td.n,table.src td.c,table.src td.b{text-align:right;color:#666;user-select:none}
table.src td.n a{color:#666;text-decoration:none}
tr.hit td.c,tr.hit td.s{background:#dcf5dc}
tr.miss td.c,tr.miss td.s{background:#f9d0cc}
tr.part td.c,tr.part td.s{background:#fbf1c0}
.note{background:#fbf1c0;padding:.3em}
</style>`

const summaryRows = `{{define "cells"}}<td class="num">{{.Lines.Hit}}/{{.Lines.Found}}</td><td><span class="bar"><span style="width:{{width .Lines}}%"></span></span></td><td class="num">{{pct .Lines}}</td><td class="num">{{.Functions.Hit}}/{{.Functions.Found}}</td><td class="num">{{pct .Functions}}</td><td class="num">{{.Branches.Hit}}/{{.Branches.Found}}</td><td class="num">{{pct .Branches}}</td>{{end}}
{{define "head"}}<tr><th>file</th><th class="num">lines</th><th></th><th></th><th class="num">functions</th><th></th><th class="num">branches</th><th></th></tr>{{end}}`

var indexTmpl = template.Must(template.New("index").Funcs(funcs).Parse(summaryRows + `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>` + style + `</head><body>
<h1>{{.Title}}</h1>
<table class="sum">{{template "head"}}
{{range .Rows}}<tr><td><a href="{{.Link}}">{{.Name}}</a></td>{{template "cells" .}}</tr>
{{end}}<tr class="total"><td>{{.Total.Name}}</td>{{template "cells" .Total}}</tr>
</table>
{{if .LCOV}}<p>lcov tracefile: <a href="{{.LCOV}}">{{.LCOV}}</a></p>{{end}}
</body></html>
`))

var fileTmpl = template.Must(template.New("file").Funcs(funcs).Parse(summaryRows + `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Rel}} - {{.Title}}</title>` + style + `</head><body>
<h1>{{.Rel}}</h1>
<p><a href="{{.Up}}">{{.Title}}</a> &middot; {{.Source}}</p>
{{if .Note}}<p class="note">{{.Note}}</p>{{end}}
<table class="sum">{{template "head"}}
<tr><td>{{.Rel}}</td>{{template "cells" .Summary}}</tr>
</table>
{{if .Functions}}<h2>Functions</h2>
<table class="sum"><tr><th>function</th><th class="num">line</th><th class="num">calls</th></tr>
{{range .Functions}}<tr><td>{{.Name}}</td><td class="num"><a href="#L{{.Start}}">{{.Start}}</a></td><td class="num">{{.Count}}</td></tr>
{{end}}</table>{{end}}
<h2>Source</h2>
<table class="src">
{{range .Rows}}<tr id="L{{.N}}"{{if .Class}} class="{{.Class}}"{{end}}><td class="n"><a href="#L{{.N}}">{{.N}}</a></td><td class="c">{{.Count}}</td><td class="b"{{if .Detail}} title="{{.Detail}}"{{end}}>{{.Branch}}</td><td class="s">{{.Text}}</td></tr>
{{end}}</table>
</body></html>
`))
