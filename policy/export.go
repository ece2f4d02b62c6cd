package policy

import (
	"bufio"
	"io"
	"strings"
	"unicode"
)

// ExportTitle is the first line of an export, after "# ". Export knows an
// earlier export by it, so that exporting a file that was exported before
// does not pile up headers.
const ExportTitle = "Gatehouse policy export: the policy in force, as Casbin CSV."

// Export writes the policy in force as Casbin CSV that ParseCSV reads back
// to the same lines: ExportTitle and the header as comment lines, then the
// file layer as its file has it, then the database lines under the comment
// "# from database".
//
// The file layer keeps the file's comments, blank lines and lines in place,
// as written, when files.Text holds the file (LoadDir, DefaultFiles); only
// the header of an earlier export and its "# from database" line are left
// out, since this export writes its own. Lines of files that its text does
// not hold follow, as CSV. database is written as given, in its order:
// choosing which database lines belong in a file is the caller's business.
func Export(w io.Writer, header []string, files *Files, database []Line) error {
	bw := bufio.NewWriter(w)
	for _, h := range append([]string{ExportTitle}, header...) {
		for _, part := range strings.Split(h, "\n") {
			bw.WriteString(strings.TrimRight("# "+part, " ") + "\n")
		}
	}
	body := fileBody(files)
	if len(body) > 0 {
		bw.WriteString("\n")
	}
	for _, line := range body {
		bw.WriteString(line + "\n")
	}
	if len(database) > 0 {
		bw.WriteString("\n# from " + OriginDatabase + "\n")
	}
	for _, l := range database {
		bw.WriteString(l.CSV() + "\n")
	}
	return bw.Flush()
}

// fileBody returns the file layer's text lines: the lines of files.Text
// that are comments, blank or lines of files.Lines, without an earlier
// export's header and markers and without blank lines at either end; then
// every line of files.Lines that files.Text does not hold, as CSV.
func fileBody(files *Files) []string {
	fromText := map[int]bool{} // numbers of the lines read from files.Text
	for _, l := range files.Lines {
		if l.File == files.PolicyName && files.Text != "" {
			fromText[l.Num] = true
		}
	}
	var out []string
	rest := files.Text
	for num := 1; rest != ""; num++ {
		var raw string
		raw, rest, _ = strings.Cut(rest, "\n")
		line := strings.TrimRightFunc(raw, unicode.IsSpace)
		trimmed := strings.TrimSpace(line)
		switch {
		case num == 1 && trimmed == "# "+ExportTitle:
			// An earlier export's header: the comment block up to the
			// first blank line.
			for rest != "" {
				raw, rest, _ = strings.Cut(rest, "\n")
				num++
				if strings.TrimSpace(raw) == "" {
					break
				}
			}
		case trimmed == "# from "+OriginDatabase || trimmed == "# from "+files.PolicyName:
			// A marker an earlier export wrote; its lines are file lines now.
		case trimmed == "" || trimmed[0] == '#':
			if trimmed != "" || len(out) > 0 {
				out = append(out, line)
			}
		case fromText[num]:
			out = append(out, line)
			delete(fromText, num)
		}
		// Any other line is not in files.Lines: not in force, left out.
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	for _, l := range files.Lines {
		if l.File != files.PolicyName || files.Text == "" || fromText[l.Num] {
			out = append(out, l.CSV())
		}
	}
	return out
}
