package main

import (
	"context"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

// ttySession is the built binary run on a pseudo-terminal (util-linux
// script(1)), so its prompts are the real ones: what a person at a
// terminal sees and types.
type ttySession struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    testkit.LockedBuffer // what the terminal showed
	done   chan struct{}
	cancel context.CancelFunc
}

// onTerminal starts gatehouse args for the CLI user c on a terminal; it
// skips the test where script(1) is missing.
func onTerminal(t *testing.T, c *testkit.CLI, args ...string) *ttySession {
	t.Helper()
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script(1) (util-linux) is not installed: no terminal to test the prompts on")
	}
	line := c.Bin
	for _, a := range args {
		line += " '" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	s := &ttySession{t: t, cancel: cancel, done: make(chan struct{})}
	s.cmd = exec.CommandContext(ctx, script, "-qefc", line, "/dev/null")
	s.cmd.Env = append([]string{"TERM=dumb"}, c.Env...)
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(s.done)
		buf := make([]byte, 4096)
		for {
			n, err := out.Read(buf)
			s.out.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-s.done; _ = s.cmd.Wait() })
	return s
}

func (s *ttySession) transcript() string { return s.out.String() }

// answer waits for prompt to appear after what was shown so far, then
// types line.
func (s *ttySession) answer(prompt, line string) {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(s.transcript(), prompt) {
		select {
		case <-s.done:
			s.t.Fatalf("the command ended before asking %q:\n%s", prompt, s.transcript())
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no prompt %q:\n%s", prompt, s.transcript())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := io.WriteString(s.stdin, line+"\n"); err != nil {
		s.t.Fatal(err)
	}
}

// wait waits for the command to end and returns its exit code and what
// the terminal showed.
func (s *ttySession) wait() (int, string) {
	s.t.Helper()
	<-s.done
	err := s.cmd.Wait()
	s.stdin.Close()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), s.transcript()
	}
	if err != nil {
		s.t.Fatalf("%v\n%s", err, s.transcript())
	}
	return 0, s.transcript()
}

// TestPromptsOnATerminal: on a real terminal, login without --username
// asks for the username, then for the password, and logs in; me password
// asks for the current password and the new one twice, refuses two that
// differ, and changes it.
func TestPromptsOnATerminal(t *testing.T) {
	const adminPW, newPW = "admin-password-1", "admin-password-two"
	srv := testkit.StartGatehouse(t, adminPW)
	cli := testkit.NewCLI(t)
	s := onTerminal(t, cli, "login", "--server", srv.URL)
	s.answer("Username for "+srv.URL+": ", "admin")
	s.answer("Password for admin at "+srv.URL+": ", adminPW)
	code, shown := s.wait()
	if code != 0 || !strings.Contains(shown, "Logged in to "+srv.URL+" as admin.") {
		t.Fatalf("login: exit %d:\n%s", code, shown)
	}
	if !hasRow(cli.OK("user", "list"), "admin", "active", "admin") {
		t.Error("the login made on the terminal is not used by user list")
	}

	current := "The current password of admin at " + srv.URL + ": "
	s = onTerminal(t, cli, "me", "password")
	s.answer(current, adminPW)
	s.answer("New password: ", newPW)
	s.answer("New password again: ", newPW+"x")
	if code, shown := s.wait(); code != 1 || !strings.Contains(shown, "the new passwords typed differ; nothing changed") {
		t.Errorf("me password with two different new passwords: exit %d:\n%s", code, shown)
	}
	s = onTerminal(t, cli, "me", "password")
	s.answer(current, adminPW)
	s.answer("New password: ", newPW)
	s.answer("New password again: ", newPW)
	if code, shown := s.wait(); code != 0 || !strings.Contains(shown, "Changed the password of admin.") {
		t.Errorf("me password: exit %d:\n%s", code, shown)
	}
	if r := testkit.NewCLI(t).RunEnv(nil, newPW+"\n", "login", "--server", srv.URL, "--username", "admin", "--password-stdin"); r.Code != 0 {
		t.Errorf("the password typed at the terminal is not the new one: %v", r)
	}
}
