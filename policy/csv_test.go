package policy

import (
	"encoding/csv"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// casbinRecord reads one line as Casbin's file adapter does
// (persist.LoadPolicyLine), before the line reaches the model.
func casbinRecord(line string) ([]string, error) {
	r := csv.NewReader(strings.NewReader(line))
	r.Comma = ','
	r.Comment = '#'
	r.TrimLeadingSpace = true
	return r.Read()
}

// TestSplitRecordReadsAsCasbin: splitRecord gives exactly the values
// Casbin's CSV reader gives for a line, or fails where it fails, on
// random lines made of the characters that matter.
func TestSplitRecordReadsAsCasbin(t *testing.T) {
	seed := uint64(rand.Int64())
	rng := rand.New(rand.NewPCG(seed, 7))
	alphabet := []string{"a", "b", " ", "\t", ",", `"`, `""`, "p", "g", "/", "\u00a0", "é"}
	for i := 0; i < 200_000; i++ {
		var b strings.Builder
		for n := rng.IntN(12); n >= 0; n-- {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		line := strings.TrimSpace(b.String())
		if line == "" || line[0] == '#' {
			continue
		}
		want, werr := casbinRecord(line)
		got, gerr := splitRecord(line, nil)
		if (werr != nil) != (gerr != nil) || (werr == nil && !slices.Equal(got, want)) {
			t.Fatalf("seed %d: %q: splitRecord %q (%v), Casbin %q (%v)", seed, line, got, gerr, want, werr)
		}
	}
}

// TestParseCSVRefusesWhatCasbinReadsOtherwise: where Casbin would read a
// line otherwise than it looks, or not at all, the line is refused with its
// number, never read another way.
func TestParseCSVRefusesWhatCasbinReadsOtherwise(t *testing.T) {
	for _, c := range []struct{ line, want string }{
		{"p, read , /docs, GET", `value 1 "read " ends in a space`},
		{`p, "read ", /docs, GET`, `value 1 "read " ends in a space`},
		{"p , read, /docs, GET", `line type "p " ends in a space`},
		{"p, read, , GET", "value 2 is empty"},
		{`p, read, /a"b, GET`, `bare "`},
		{`p, "read" , /docs, GET`, `extraneous or missing "`},
		{`p, "read, /docs, GET`, `extraneous or missing "`},
		{"p", "want a type and at least one value"},
		{"x, read, /docs, GET", `unknown line type "x"`},
		{"p, read, " + strings.Repeat("a", maxLineBytes), "longer than"},
	} {
		_, errs := ParseCSV("policy.csv", []byte("# first\n\n"+c.line+"\n"))
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), "policy.csv:3: ") || !strings.Contains(errs[0].Error(), c.want) {
			t.Errorf("%q: %v, want policy.csv:3: …%s", c.line, errs, c.want)
		}
	}
	// What Casbin reads as written is read the same way.
	lines, errs := ParseCSV("policy.csv", []byte("  p,read,/docs,  \tGET  \n"+`p, "a, b", "say ""hi""", GET`+"\n\t# comment\n"))
	if len(errs) > 0 || len(lines) != 2 {
		t.Fatalf("%v %v", lines, errs)
	}
	if !slices.Equal(lines[0].Fields, []string{"read", "/docs", "GET"}) {
		t.Errorf("line 1: %q", lines[0].Fields)
	}
	if !slices.Equal(lines[1].Fields, []string{"a, b", `say "hi"`, "GET"}) || lines[1].Num != 2 {
		t.Errorf("line 2: %q (line %d)", lines[1].Fields, lines[1].Num)
	}
}
