package deploy

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	line int    // where it starts
	cmd  string // upper case: FROM, RUN, …
	rest string // everything after the command
}

// stage is a FROM and the instructions up to the next one.
type stage struct {
	image, name string
	instrs      []instruction
}

// dockerfile is a parsed Dockerfile, enough of one for the tests: its
// stages in order.
type dockerfile struct {
	stages []*stage
}

// parseDockerfile reads the Dockerfile at path. It knows comments,
// continuation lines and FROM's flags and AS; that is all this repository's
// Dockerfile uses.
func parseDockerfile(path string) (*dockerfile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var instrs []instruction
	var cur *instruction
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue // comments may sit between continuation lines too
		}
		more := strings.HasSuffix(line, `\`)
		line = strings.TrimSpace(strings.TrimSuffix(line, `\`))
		if cur == nil {
			cmd, rest, _ := strings.Cut(line, " ")
			cur = &instruction{line: n, cmd: strings.ToUpper(cmd), rest: strings.TrimSpace(rest)}
		} else {
			cur.rest += " " + line
		}
		if !more {
			instrs = append(instrs, *cur)
			cur = nil
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if cur != nil {
		return nil, fmt.Errorf("%s:%d: continuation line at the end of the file", path, cur.line)
	}
	d := &dockerfile{}
	for _, in := range instrs {
		if in.cmd != "FROM" {
			if len(d.stages) == 0 {
				if in.cmd == "ARG" {
					continue // global ARGs before the first FROM
				}
				return nil, fmt.Errorf("%s:%d: %s before FROM", path, in.line, in.cmd)
			}
			last := d.stages[len(d.stages)-1]
			last.instrs = append(last.instrs, in)
			continue
		}
		var words []string
		for _, w := range strings.Fields(in.rest) {
			if !strings.HasPrefix(w, "--") { // --platform=…
				words = append(words, w)
			}
		}
		s := &stage{}
		switch {
		case len(words) == 1:
			s.image = words[0]
		case len(words) == 3 && strings.EqualFold(words[1], "AS"):
			s.image, s.name = words[0], words[2]
		default:
			return nil, fmt.Errorf("%s:%d: FROM %s: want IMAGE [AS NAME]", path, in.line, in.rest)
		}
		d.stages = append(d.stages, s)
	}
	if len(d.stages) == 0 {
		return nil, fmt.Errorf("%s: no FROM", path)
	}
	return d, nil
}

// all returns the stage's instructions of one kind.
func (s *stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.instrs {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// buildLine finds the RUN with `go build` and returns its stage and its
// shell command, without RUN's own flags (--mount=…).
func (d *dockerfile) buildLine() (*stage, instruction, string, error) {
	for _, s := range d.stages {
		for _, in := range s.all("RUN") {
			if !strings.Contains(in.rest, "go build") {
				continue
			}
			rest := in.rest
			for strings.HasPrefix(rest, "--") {
				_, rest, _ = strings.Cut(rest, " ")
				rest = strings.TrimSpace(rest)
			}
			return s, in, rest, nil
		}
	}
	return nil, instruction{}, "", fmt.Errorf("no RUN with go build")
}

// shellWords splits a POSIX shell command line into words the way sh
// would for the simple commands a Dockerfile's RUN or a make recipe holds:
// blanks separate words, single quotes keep everything, double quotes keep
// blanks and expand $NAME and ${NAME}, a backslash escapes the next
// character. vars gives the values; a variable it lacks is an error, so
// that a misspelt ${VERSON} cannot pass as empty.
func shellWords(line string, vars map[string]string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words, inWord = append(words, w.String()), false
				w.Reset()
			}
			continue
		case c == '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("unterminated ' in %q", line)
			}
			w.WriteString(line[i+1 : i+1+end])
			i += end + 1
		case c == '"':
			j := i + 1
			for ; j < len(line) && line[j] != '"'; j++ {
				switch {
				case line[j] == '\\' && j+1 < len(line) && strings.IndexByte("\"\\$`", line[j+1]) >= 0:
					j++
					w.WriteByte(line[j])
				case line[j] == '$':
					n, err := expand(line[j:], vars, &w)
					if err != nil {
						return nil, err
					}
					j += n - 1
				default:
					w.WriteByte(line[j])
				}
			}
			if j == len(line) {
				return nil, fmt.Errorf("unterminated \" in %q", line)
			}
			i = j
		case c == '\\' && i+1 < len(line):
			i++
			w.WriteByte(line[i])
		case c == '$':
			n, err := expand(line[i:], vars, &w)
			if err != nil {
				return nil, err
			}
			i += n - 1
		case strings.IndexByte(";&|<>`(){}", c) >= 0:
			return nil, fmt.Errorf("%q: more than a simple command (%q)", line, c)
		default:
			w.WriteByte(c)
		}
		inWord = true
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

// expand writes the value of the variable s starts with ($NAME or
// ${NAME}) to w and returns how many bytes of s it used.
func expand(s string, vars map[string]string, w *strings.Builder) (int, error) {
	var name string
	var n int
	if strings.HasPrefix(s, "${") {
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return 0, fmt.Errorf("unterminated ${ in %q", s)
		}
		name, n = s[2:end], end+1
	} else {
		n = 1
		for n < len(s) && (s[n] == '_' || s[n] >= 'A' && s[n] <= 'Z' || s[n] >= 'a' && s[n] <= 'z' || n > 1 && s[n] >= '0' && s[n] <= '9') {
			n++
		}
		name = s[1:n]
	}
	v, ok := vars[name]
	if !ok || name == "" {
		return 0, fmt.Errorf("variable %q is not set", name)
	}
	w.WriteString(v)
	return n, nil
}

// goBuild is a parsed `VAR=v … go build FLAGS… PACKAGE` command.
type goBuild struct {
	env    []string // the assignments before go
	args   []string // after "go": build, flags, package
	output string   // -o
}

// parseGoBuild reads a go build command line.
func parseGoBuild(words []string) (*goBuild, error) {
	g := &goBuild{}
	i := 0
	for ; i < len(words) && strings.Contains(words[i], "=") && !strings.HasPrefix(words[i], "-"); i++ {
		g.env = append(g.env, words[i])
	}
	if len(words) < i+3 || words[i] != "go" || words[i+1] != "build" {
		return nil, fmt.Errorf("%q: want [VAR=value…] go build …", words)
	}
	g.args = words[i+1:]
	if o, ok := flagValue(g.args, "-o"); ok {
		g.output = o
	}
	return g, nil
}

// withOutput returns the arguments with -o replaced by out.
func (g *goBuild) withOutput(out string) []string {
	args := append([]string(nil), g.args...)
	for i, a := range args {
		if a == "-o" && i+1 < len(args) {
			args[i+1] = out
		} else if strings.HasPrefix(a, "-o=") {
			args[i] = "-o=" + out
		}
	}
	return args
}
