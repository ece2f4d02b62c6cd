package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/gatehouse-dev/gatehouse/admin"
)

// prompter asks the person at the terminal. An app has none when stdin is
// not a terminal: commands then take what they need from flags and stdin,
// and say which flag is missing.
type prompter interface {
	// Line asks for one line, shown as it is typed (a username).
	Line(prompt string) (string, error)
	// Secret asks for one line that is not shown (a password).
	Secret(prompt string) ([]byte, error)
}

// maxLine bounds a line typed at a prompt.
const maxLine = 4096

// ttyPrompter prompts on out (stderr, so stdout stays the command's
// output) and reads the terminal in.
type ttyPrompter struct {
	in  *os.File
	out io.Writer
}

// terminalPrompter returns a prompter of stdin when it is a terminal, and
// nil otherwise.
func terminalPrompter(stdin io.Reader, out io.Writer) prompter {
	f, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return ttyPrompter{in: f, out: out}
}

func (p ttyPrompter) Line(prompt string) (string, error) {
	fmt.Fprint(p.out, prompt)
	// One byte at a time: a buffered reader would keep what is typed
	// ahead for the next prompt, which reads the terminal itself.
	var line []byte
	var c [1]byte
	for {
		n, err := p.in.Read(c[:])
		if n == 1 && c[0] == '\n' {
			break
		}
		if n == 1 {
			if line = append(line, c[0]); len(line) > maxLine {
				return "", fmt.Errorf("the line typed is longer than %d bytes", maxLine)
			}
		}
		if errors.Is(err, io.EOF) {
			if len(line) == 0 {
				fmt.Fprintln(p.out)
				return "", errors.New("nothing typed (end of input)")
			}
			break
		}
		if err != nil {
			return "", err
		}
	}
	return strings.TrimSuffix(string(line), "\r"), nil
}

func (p ttyPrompter) Secret(prompt string) ([]byte, error) {
	fmt.Fprint(p.out, prompt)
	b, err := term.ReadPassword(int(p.in.Fd()))
	fmt.Fprintln(p.out) // the newline typed was not echoed
	return b, err
}

// readPassword reads a password: one line of stdin with --password-stdin,
// else a prompt without echo when stdin is a terminal.
func (a *app) readPassword(fromStdin bool, prompt string) (admin.Secret, error) {
	if !fromStdin {
		return a.askSecret(prompt, "the password")
	}
	lines, err := a.stdinLines(1)
	if err != nil {
		return "", err
	}
	if lines[0] == "" {
		return "", usageError{errors.New("--password-stdin: stdin holds no password")}
	}
	return admin.Secret(lines[0]), nil
}

// askSecret asks for a secret at the terminal; what names it in messages
// ("the password").
func (a *app) askSecret(prompt, what string) (admin.Secret, error) {
	if a.prompt == nil {
		return "", usageError{fmt.Errorf("stdin is not a terminal to ask for %s: pass it with --password-stdin", what)}
	}
	b, err := a.prompt.Secret(prompt)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", what, err)
	}
	if len(b) == 0 {
		return "", fmt.Errorf("no %s given", strings.TrimPrefix(what, "the "))
	}
	return admin.Secret(b), nil
}

// stdinLines reads n lines of stdin (--password-stdin), without their
// line ends; a line stdin does not hold is "".
func (a *app) stdinLines(n int) ([]string, error) {
	r := bufio.NewReader(a.stdin)
	lines := make([]string, n)
	for i := range lines {
		line, err := r.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("reading stdin: %w", err)
		}
		lines[i] = strings.TrimRight(line, "\r\n")
		if err != nil {
			break
		}
	}
	return lines, nil
}
