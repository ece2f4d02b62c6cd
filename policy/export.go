package policy

import (
	"bufio"
	"io"
	"strings"
)

// Export writes lines as Casbin CSV that ParseCSV reads back: the header
// as comment lines, then the lines in their order, each run of lines from
// one origin (a file, or the database) introduced by a comment naming it.
func Export(w io.Writer, header []string, lines []Line) error {
	bw := bufio.NewWriter(w)
	for _, h := range header {
		for _, part := range strings.Split(h, "\n") {
			bw.WriteString(strings.TrimRight("# "+part, " ") + "\n")
		}
	}
	origin := "\x00"
	for _, l := range lines {
		o := l.File
		if o == "" {
			o = OriginDatabase
		}
		if o != origin {
			origin = o
			bw.WriteString("\n# from " + strings.ReplaceAll(o, "\n", " ") + "\n")
		}
		bw.WriteString(l.CSV() + "\n")
	}
	return bw.Flush()
}
