// Package report holds the results of a lab run and writes them for people
// and for machines: a table, KTAP (the kernel's test format), JSON and
// JUnit XML.
//
// Every format, the closing "modlab: N passed, N failed" line and the exit
// status take their verdicts from one place, [KernelResult.UnitVerdict] and
// [KernelResult.Verdict] (summed up by [Summarize]), so they always agree.
package report
