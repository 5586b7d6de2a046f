package report

import (
	"encoding/json"
	"io"
)

// WriteJSON prints the results as one JSON document: the results as they
// are, each kernel and unit with its verdict ("verdict": pass, fail,
// build-error, not-run or lab-error, and "reason"), and the summary the
// closing line counts.
func WriteJSON(w io.Writer, results []KernelResult) error {
	doc := jsonReport{Results: []jsonKernel{}, Summary: Summarize(results)}
	for k := range results {
		r := &results[k]
		v := r.Verdict()
		jk := jsonKernel{KernelResult: *r, Units: []jsonUnit{}, Verdict: v.Outcome, Reason: v.Reason}
		for i := range r.Units {
			uv := r.UnitVerdict(i)
			jk.Units = append(jk.Units, jsonUnit{UnitResult: r.Units[i], Verdict: uv.Outcome, Reason: uv.Reason})
		}
		doc.Results = append(doc.Results, jk)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

type jsonReport struct {
	Results []jsonKernel `json:"results"`
	Summary Summary      `json:"summary"`
}

// jsonKernel and jsonUnit add the verdicts to the results; their fields
// take the place of the embedded ones of the same name.
type jsonKernel struct {
	Verdict Outcome `json:"verdict"`
	Reason  string  `json:"reason,omitempty"`
	KernelResult
	Units []jsonUnit `json:"units"`
}

type jsonUnit struct {
	Verdict Outcome `json:"verdict"`
	Reason  string  `json:"reason,omitempty"`
	UnitResult
}
