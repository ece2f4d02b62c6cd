package policy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// The JSON document of a diff (WriteJSON). Its schema is stable: fields
// may be added, none is renamed or removed.
type (
	diffJSON struct {
		Old     string       `json:"old"`
		New     string       `json:"new"`
		Summary summaryJSON  `json:"summary"`
		Changes []changeJSON `json:"changes"`
		Replay  *replayJSON  `json:"replay,omitempty"`
	}
	summaryJSON struct {
		Changes         int      `json:"changes"`
		AllowToDeny     int      `json:"allow_to_deny"`
		DenyToAllow     int      `json:"deny_to_allow"`
		SubjectsChanged []string `json:"subjects_changed"`
		SubjectsChecked int      `json:"subjects_checked"`
		PathsChecked    int      `json:"paths_checked"`
		MethodsChecked  []string `json:"methods_checked"`
		// ReplayFlips counts the recorded decisions the replay flips;
		// with --audit-log only.
		ReplayFlips *int `json:"replay_flips,omitempty"`
		// NotSampled are the patterns decided on no sample path.
		NotSampled []string `json:"not_sampled"`
	}
	changeJSON struct {
		Subject string      `json:"subject"`
		Kind    string      `json:"kind"`
		Method  string      `json:"method"`
		Path    string      `json:"path"`
		Sample  string      `json:"sample_path"`
		Before  verdictJSON `json:"before"`
		After   verdictJSON `json:"after"`
	}
	verdictJSON struct {
		Allow bool         `json:"allow"`
		Lines []SourceLine `json:"lines"`
	}
	replayJSON struct {
		Records       int          `json:"records"`
		SkippedLines  int          `json:"skipped_lines"`
		Replayed      int          `json:"replayed"`
		AllowToDeny   int          `json:"allow_to_deny"`
		DenyToAllow   int          `json:"deny_to_allow"`
		NotReproduced int          `json:"not_reproduced"`
		UnknownUsers  []UserCount  `json:"unknown_users"`
		Users         []UserFlips  `json:"users"`
		TopRoutes     []RouteFlips `json:"top_routes"`
	}
)

func verdictDoc(v Verdict) verdictJSON {
	lines := v.Lines
	if lines == nil {
		lines = []SourceLine{}
	}
	return verdictJSON{Allow: v.Allow, Lines: lines}
}

// WriteJSON writes the diff as an indented JSON document.
func (r *DiffResult) WriteJSON(w io.Writer) error {
	doc := diffJSON{Old: r.Old, New: r.New, Changes: []changeJSON{}, Summary: summaryJSON{
		Changes: len(r.Changes), AllowToDeny: r.AllowToDeny(), DenyToAllow: r.DenyToAllow(),
		SubjectsChanged: []string{}, SubjectsChecked: len(r.Subjects), PathsChecked: r.Paths, MethodsChecked: nonNil(r.Methods),
		NotSampled: nonNil(r.NotSampled),
	}}
	for _, s := range r.ChangedSubjects() {
		doc.Summary.SubjectsChanged = append(doc.Summary.SubjectsChanged, s.String())
	}
	for _, c := range r.Changes {
		doc.Changes = append(doc.Changes, changeJSON{Subject: c.Subject.String(), Kind: c.Subject.Kind,
			Method: c.Method, Path: c.Path, Sample: c.Sample, Before: verdictDoc(c.Before), After: verdictDoc(c.After)})
	}
	if p := r.Replay; p != nil {
		flips := p.Total()
		doc.Summary.ReplayFlips = &flips
		doc.Replay = &replayJSON{Records: p.Records, SkippedLines: p.Skipped, Replayed: p.Replayed, AllowToDeny: p.AllowToDeny, DenyToAllow: p.DenyToAllow,
			NotReproduced: p.NotReproduced, UnknownUsers: nonNil(p.Unknown), Users: nonNil(p.Users), TopRoutes: nonNil(p.Routes)}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// headline says how many decisions change, for whom, and how many
// recorded decisions the replay flips.
func (r *DiffResult) headline() string {
	h := "no decision changes"
	if len(r.Changes) > 0 {
		h = fmt.Sprintf("%s change for %s (%d allow → deny, %d deny → allow)",
			plural(len(r.Changes), "decision"), plural(len(r.ChangedSubjects()), "subject"), r.AllowToDeny(), r.DenyToAllow())
	}
	if n := r.ReplayFlips(); n > 0 {
		verb := "flip"
		if n == 1 {
			verb = "flips"
		}
		h += fmt.Sprintf("; %s of the audit log %s", plural(n, "recorded decision"), verb)
	}
	return h
}

// NotSampledNote says which patterns were decided on no sample path;
// "" when there are none.
func (r *DiffResult) NotSampledNote() string {
	if len(r.NotSampled) == 0 {
		return ""
	}
	return fmt.Sprintf("%s not sampled: %s (not Gatehouse patterns: their paths are decided only as --routes and tests.yaml name them)",
		plural(len(r.NotSampled), "pattern"), strings.Join(r.NotSampled, ", "))
}

// checked says what was decided.
func (r *DiffResult) checked() string {
	return fmt.Sprintf("%s × %s × %s (%s)", plural(len(r.Subjects), "subject"), plural(r.Paths, "path"),
		plural(len(r.Methods), "method"), strings.Join(r.Methods, ", "))
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func verdictWord(allow bool) string {
	if allow {
		return "allow"
	}
	return "deny"
}

// WriteText writes the diff for people: a headline, then the changes
// grouped by subject, each with the lines responsible on each side.
func (r *DiffResult) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "policy diff %s → %s: %s\n", r.Old, r.New, r.headline())
	fmt.Fprintf(bw, "checked: %s\n", r.checked())
	for _, g := range r.bySubject() {
		fmt.Fprintf(bw, "\n%s: %s\n", g[0].Subject.Label(), plural(len(g), "change"))
		for i, c := range g {
			fmt.Fprintf(bw, "  %s %s: %s → %s\n", c.Method, shownPath(g, i), verdictWord(c.Before.Allow), verdictWord(c.After.Allow))
			writeTextLines(bw, "before:", c.Before)
			writeTextLines(bw, "after: ", c.After)
		}
	}
	if r.Replay != nil {
		r.Replay.writeText(bw, r.Old)
	}
	return bw.Flush()
}

// bySubject splits the changes into runs of one subject each, in report
// order.
func (r *DiffResult) bySubject() [][]DiffChange {
	var out [][]DiffChange
	for i := 0; i < len(r.Changes); {
		j := i
		for j < len(r.Changes) && r.Changes[j].Subject == r.Changes[i].Subject {
			j++
		}
		out = append(out, r.Changes[i:j])
		i = j
	}
	return out
}

// shownPath returns the path of change i of a subject's changes as
// reported: the path as written, and the sample decided when another
// change of the subject has the same method and path (a final * is
// decided on several samples).
func shownPath(g []DiffChange, i int) string {
	c := g[i]
	for j, o := range g {
		if j != i && o.Method == c.Method && o.Path == c.Path {
			return c.Path + " (as " + c.Sample + ")"
		}
	}
	return c.Path
}

// noLines says why a verdict names no line: a deny has none, and an allow
// whose lines could not be named (a custom model's) says so.
func noLines(v Verdict) string {
	if v.Allow {
		return "allowed (no line named)"
	}
	return "no line allows it"
}

func writeTextLines(w io.Writer, label string, v Verdict) {
	if len(v.Lines) == 0 {
		fmt.Fprintf(w, "    %s %s\n", label, noLines(v))
		return
	}
	for i, l := range v.Lines {
		if i > 0 {
			label = strings.Repeat(" ", len(label))
		}
		fmt.Fprintf(w, "    %s %s\n", label, l)
	}
}

func (p *Replay) writeText(w io.Writer, old string) {
	fmt.Fprintf(w, "\naudit log replay: %s read%s, %d replayed: %d allow → deny, %d deny → allow\n",
		plural(p.Records, "decision"), p.skippedNote(), p.Replayed, p.AllowToDeny, p.DenyToAllow)
	if p.NotReproduced > 0 {
		fmt.Fprintf(w, "  %s of the replayed ones recorded otherwise than %s decides them (roles from the database, or another policy)\n",
			plural(p.NotReproduced, "decision"), old)
	}
	if len(p.Unknown) > 0 {
		n, names := 0, make([]string, 0, len(p.Unknown))
		for _, u := range p.Unknown {
			n += u.Records
			names = append(names, fmt.Sprintf("%s (%d)", u.User, u.Records))
		}
		fmt.Fprintf(w, "  not replayed: %s of %s the policy files do not name: %s\n",
			plural(n, "decision"), plural(len(p.Unknown), "user"), strings.Join(names, ", "))
	}
	for _, u := range p.Users {
		fmt.Fprintf(w, "  user %s: %d allow → deny, %d deny → allow\n", userName(u.User), u.AllowToDeny, u.DenyToAllow)
	}
	for _, rt := range p.Routes {
		fmt.Fprintf(w, "  route %s %s: %d allow → deny, %d deny → allow\n", rt.Method, rt.Path, rt.AllowToDeny, rt.DenyToAllow)
	}
}

// skippedNote says how many lines of the log were left out, if any.
func (p *Replay) skippedNote() string {
	if p.Skipped == 0 {
		return ""
	}
	return fmt.Sprintf(" (%s skipped: not audit decisions, too long, or older than --since)", plural(p.Skipped, "other line"))
}

func userName(u string) string {
	if u == "" {
		return KindAnonymous
	}
	return u
}

// WriteMarkdown writes the diff as a pull-request comment: a heading with
// the counts, then a table per subject with the lines responsible on each
// side in code spans.
func (r *DiffResult) WriteMarkdown(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "### Policy diff: %s\n\n", r.headline())
	fmt.Fprintf(bw, "%s → %s. Checked %s.\n", code(r.Old), code(r.New), r.checked())
	if len(r.NotSampled) > 0 {
		cells := make([]string, len(r.NotSampled))
		for i, p := range r.NotSampled {
			cells[i] = code(p)
		}
		fmt.Fprintf(bw, "\n%s not sampled: %s (not Gatehouse patterns: their paths are decided only as `--routes` and `tests.yaml` name them).\n",
			plural(len(r.NotSampled), "pattern"), strings.Join(cells, ", "))
	}
	for _, g := range r.bySubject() {
		fmt.Fprintf(bw, "\n#### %s: %s\n\n", g[0].Subject.Label(), plural(len(g), "change"))
		fmt.Fprintln(bw, "| request | before | after | lines before | lines after |")
		fmt.Fprintln(bw, "|---|---|---|---|---|")
		for i, c := range g {
			fmt.Fprintf(bw, "| %s | %s | %s | %s | %s |\n", cell(c.Method+" "+shownPath(g, i)),
				verdictWord(c.Before.Allow), verdictWord(c.After.Allow), mdLines(c.Before), mdLines(c.After))
		}
	}
	if p := r.Replay; p != nil {
		fmt.Fprintf(bw, "\n#### Audit log replay\n\n%s read%s, %d replayed: **%d allow → deny, %d deny → allow**.",
			plural(p.Records, "decision"), p.skippedNote(), p.Replayed, p.AllowToDeny, p.DenyToAllow)
		if p.NotReproduced > 0 {
			fmt.Fprintf(bw, " %s of the replayed ones recorded otherwise than %s decides them (roles from the database, or another policy).",
				plural(p.NotReproduced, "decision"), code(r.Old))
		}
		if len(p.Unknown) > 0 {
			n := 0
			for _, u := range p.Unknown {
				n += u.Records
			}
			fmt.Fprintf(bw, " Not replayed: %s of %s the policy files do not name.", plural(n, "decision"), plural(len(p.Unknown), "user"))
		}
		fmt.Fprintln(bw)
		if len(p.Users)+len(p.Routes) > 0 {
			fmt.Fprintln(bw, "\n| who or what | allow → deny | deny → allow |\n|---|---|---|")
			for _, u := range p.Users {
				fmt.Fprintf(bw, "| user %s | %d | %d |\n", cell(userName(u.User)), u.AllowToDeny, u.DenyToAllow)
			}
			for _, rt := range p.Routes {
				fmt.Fprintf(bw, "| %s | %d | %d |\n", cell(rt.Method+" "+rt.Path), rt.AllowToDeny, rt.DenyToAllow)
			}
		}
	}
	return bw.Flush()
}

// mdLines renders a verdict's lines for a table cell.
func mdLines(v Verdict) string {
	if len(v.Lines) == 0 && v.Allow {
		return noLines(v)
	}
	if len(v.Lines) == 0 {
		return "—"
	}
	parts := make([]string, len(v.Lines))
	for i, l := range v.Lines {
		parts[i] = cell(fmt.Sprintf("%s:%d", l.File, l.Line)) + " " + cell(l.Text)
	}
	return strings.Join(parts, "<br>")
}

// cell renders s as a Markdown code span that a table cell can hold: |
// escaped, as GitHub's tables want even inside code spans.
func cell(s string) string { return code(strings.ReplaceAll(s, "|", `\|`)) }

// code renders s as a Markdown code span: a fence longer than any run of
// backticks in s.
func code(s string) string {
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}
