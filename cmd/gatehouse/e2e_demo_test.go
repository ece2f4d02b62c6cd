package main

import (
	"bufio"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDemo runs `gatehouse demo` as the README says and tries the lines it
// prints: anonymous 401, the guest reading, refused a write, updating its
// own user and not someone else's.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	cmd := exec.Command(gatehouseBinary(t), "demo", "--listen", "127.0.0.1:0", "--ops-listen", "127.0.0.1:0")
	cmd.Env = []string{"HOME=" + t.TempDir()}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 256)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var url, guest, admin string
	deadline := time.After(30 * time.Second)
	urlRE := regexp.MustCompile(`running at (http://127\.0\.0\.1:\d+)`)
	for guest == "" || admin == "" || url == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("demo exited before printing its tokens")
			}
			if m := urlRE.FindStringSubmatch(l); m != nil {
				url = m[1]
			}
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "export GUEST="); ok {
				guest = v
			}
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "export ADMIN="); ok {
				admin = v
			}
		case <-deadline:
			t.Fatal("demo printed no URL and tokens within 30s")
		}
	}
	try := func(method, path, tok, body string, want int) {
		t.Helper()
		req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != want {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, res.StatusCode, want, b)
		}
	}
	try("GET", "/api/v1/pipelines", "", "", 401)
	try("GET", "/api/v1/pipelines", guest, "", 200)
	try("POST", "/api/v1/pipelines", guest, `{"name":"mine"}`, 403)
	try("PUT", "/api/v1/users/guest", guest, `{"full_name":"Gus Guest"}`, 200)
	try("PUT", "/api/v1/users/admin", guest, `{"full_name":"x"}`, 403)
	try("POST", "/api/v1/pipelines", admin, `{"name":"nightly"}`, 201)
}
