// Package e2e tests Puente from the outside: the real binary, started as a newcomer
// would start it, driven over HTTP (and, in later tests, from a real browser).
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/puente-org/puente/store/pgtest"
)

// buildBinary builds cmd/puente into the test's temporary directory (the build cache
// makes every build after the first a quick link).
func buildBinary(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "puente")
	out, err := exec.Command("go", "build", "-o", path, "../cmd/puente").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return path
}

// dataDir makes a data directory that PostgreSQL's own user can reach when tests run as
// root (t.TempDir is 0700).
func dataDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "puente-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// cleanEnv is the test's environment without any database or SMTP settings, so the binary
// starts with zero configuration, except that it listens on free ports (web and live media),
// never the defaults: tests must pass while `go run ./cmd/puente` runs on this machine. extra
// comes last and wins (a later value of a variable overrides an earlier one).
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "DATABASE_URL" || k == "TEST_DATABASE_URL" || k == "SMTP_URL" || strings.HasPrefix(k, "PUENTE_") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "PUENTE_ADDR=127.0.0.1:0", "PUENTE_RTC_UDP_PORT=0", "PUENTE_RTC_TCP_PORT=0")
	return append(env, extra...)
}

// lockedBuffer collects a process's output safely while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

type instance struct {
	t       *testing.T
	cmd     *exec.Cmd
	baseURL string
	log     *lockedBuffer
	done    chan error
}

// start runs `puente` (serve) with the given environment and waits until it is ready.
func start(t *testing.T, bin string, env []string) *instance {
	t.Helper()
	port := freePort(t)
	in := &instance{t: t, baseURL: fmt.Sprintf("http://127.0.0.1:%d", port), log: &lockedBuffer{}, done: make(chan error, 1)}
	in.cmd = exec.Command(bin)
	// env comes from cleanEnv (live media on free ports); the web port is one we know.
	in.cmd.Env = append(slices.Clip(env), fmt.Sprintf("PUENTE_ADDR=127.0.0.1:%d", port))
	stdout, err := in.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	in.cmd.Stderr = in.log
	if err := in.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	printed := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		first := true
		for sc.Scan() {
			if first {
				printed <- sc.Text()
				first = false
			}
			in.log.Write([]byte("stdout: " + sc.Text() + "\n"))
		}
		in.done <- in.cmd.Wait()
	}()
	t.Cleanup(func() {
		if in.cmd.ProcessState == nil {
			_ = in.cmd.Process.Kill()
			<-in.done
		}
		if t.Failed() {
			t.Logf("puente output:\n%s", in.log.String())
		}
	})
	select {
	case line := <-printed:
		if !strings.Contains(line, in.baseURL) {
			t.Fatalf("first line should give the URL %s, got %q", in.baseURL, line)
		}
	case err := <-in.done:
		t.Fatalf("puente exited before serving: %v\n%s", err, in.log.String())
	case <-time.After(120 * time.Second):
		t.Fatalf("puente did not start within 120 s\n%s", in.log.String())
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(in.baseURL + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 60 s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return in
}

// stop sends SIGTERM and expects a clean exit.
func (in *instance) stop() {
	in.t.Helper()
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-in.done:
		if err != nil {
			in.t.Fatalf("puente exited with %v after SIGTERM\n%s", err, in.log.String())
		}
	case <-time.After(30 * time.Second):
		in.t.Fatalf("puente still running 30 s after SIGTERM")
	}
}

// person is a browser: cookies, and it reads forms the way a person fills them in.
type person struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

func newPerson(t *testing.T, base string) *person {
	jar, _ := cookiejar.New(nil)
	return &person{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 15 * time.Second}}
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func (p *person) page(method, rawURL string, form url.Values) (int, string) {
	p.t.Helper()
	if !strings.HasPrefix(rawURL, "http") {
		rawURL = p.base + rawURL
	}
	var body io.Reader
	if form != nil {
		form.Set("_csrf", p.csrf)
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, rawURL, body)
	if err != nil {
		p.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := p.c.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if m := csrfField.FindStringSubmatch(string(b)); m != nil {
		p.csrf = m[1]
	}
	return res.StatusCode, string(b)
}

var (
	mailboxEntry = regexp.MustCompile(`href="/dev/mail/(\d+)"`)
	signInLink   = regexp.MustCompile(`href="(http://[^"]+/sign-in/link\?token=[^"]+)"`)
	hiddenToken  = regexp.MustCompile(`name="token" value="([^"]+)"`)
)

// requestLink fills in the sign-in form.
func (p *person) requestLink(email string) {
	p.t.Helper()
	if code, body := p.page("GET", "/", nil); code != 200 || !strings.Contains(body, "<html") {
		p.t.Fatalf("home page: %d", code)
	}
	p.page("GET", "/sign-in", nil)
	if code, body := p.page("POST", "/sign-in", url.Values{"email": {email}}); code != 200 || !strings.Contains(body, "Check your email") {
		p.t.Fatalf("request link: %d %s", code, body)
	}
}

// followLink opens a sign-in link and submits its confirmation form (the page's script
// does this in a browser) and returns the page it lands on.
func (p *person) followLink(link string) string {
	p.t.Helper()
	code, body := p.page("GET", strings.ReplaceAll(link, "&amp;", "&"), nil)
	m := hiddenToken.FindStringSubmatch(body)
	if code != 200 || m == nil {
		p.t.Fatalf("open sign-in link: %d %s", code, body)
	}
	code, body = p.page("POST", "/sign-in/link", url.Values{"token": {m[1]}})
	if code != 200 {
		p.t.Fatalf("confirm sign-in: %d %s", code, body)
	}
	return body
}

// linkFromMailbox reads the newest message for email at /dev/mail, as a newcomer does.
func (p *person) linkFromMailbox() string {
	p.t.Helper()
	code, body := p.page("GET", "/dev/mail", nil)
	m := mailboxEntry.FindStringSubmatch(body)
	if code != 200 || m == nil {
		p.t.Fatalf("mailbox: %d %s", code, body)
	}
	code, body = p.page("GET", "/dev/mail/"+m[1], nil)
	l := signInLink.FindStringSubmatch(body)
	if code != 200 || l == nil {
		p.t.Fatalf("mailbox message: %d %s", code, body)
	}
	return l[1]
}

func TestNewcomerZeroSetup(t *testing.T) {
	skipShort(t, "starts the binary and a private PostgreSQL")
	bin := buildBinary(t)
	data := dataDir(t)
	env := cleanEnv("PUENTE_DATA_DIR=" + data)
	in := start(t, bin, env)

	ana := newPerson(t, in.baseURL)
	ana.requestLink("ana@example.org")
	landed := ana.followLink(ana.linkFromMailbox())
	if !strings.Contains(landed, "You are signed in") || !strings.Contains(landed, "ana@example.org") {
		t.Fatalf("not signed in after following the link:\n%s", landed)
	}

	// Stop; the private database stops with it.
	in.stop()
	if out, _ := exec.Command("pgrep", "-f", data).Output(); len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("processes still running on the data dir after stop: %s", out)
	}

	// The admin command works on the same data dir with the server stopped ...
	out := runCLI(t, bin, env, 0, "admin", "token", "create", "--email", "bea@example.org", "--name", "laptop")
	token := lastLine(out)
	if !strings.HasPrefix(token, "pat_") {
		t.Fatalf("token create should print the token last: %q", out)
	}
	status := runCLI(t, bin, env, 0, "migrate", "status")
	if !strings.Contains(status, "00001_people.sql") || !strings.Contains(status, "applied") {
		t.Fatalf("migrate status: %s", status)
	}

	// ... and start again: the account and session are still there.
	in = start(t, bin, env)
	ana.base = in.baseURL
	code, body := ana.page("GET", "/profile", nil)
	if code != 200 || !strings.Contains(body, "ana@example.org") {
		t.Fatalf("after restart the session should still be valid: %d", code)
	}

	// With the server running, the admin command joins its database.
	out = runCLI(t, bin, env, 0, "admin", "token", "create", "--email", "ana@example.org")
	second := lastLine(out)
	for _, tok := range []string{token, second} {
		if code, body := apiGet(t, in.baseURL+"/api/v1/me", tok); code != 200 {
			t.Fatalf("token from the CLI rejected: %d %s", code, body)
		}
	}
	runCLI(t, bin, env, 0, "admin", "token", "revoke", "--token", second)
	if code, _ := apiGet(t, in.baseURL+"/api/v1/me", second); code != 401 {
		t.Fatalf("revoked token still accepted: %d", code)
	}
	dup := runCLI(t, bin, env, 1, "admin", "user", "create", "--email", "ANA@example.org")
	if !strings.Contains(dup, "puente: There is already an account for ANA@example.org.") {
		t.Fatalf("duplicate user: %q", dup)
	}
	runCLI(t, bin, env, 0, "admin", "user", "create", "--email", "carla@example.org", "--name", "Carla Díaz", "--organiser")
	users := runCLI(t, bin, env, 0, "admin", "user", "list")
	if !strings.Contains(users, "ana@example.org") || !strings.Contains(users, "bea@example.org") || !strings.Contains(users, "Carla Díaz (organiser)") {
		t.Fatalf("user list: %s", users)
	}
	// Bounces and complaints are recorded by an admin command, and can be lifted.
	runCLI(t, bin, env, 0, "admin", "mail", "suppress", "--email", "Bea@example.org", "--reason", "bounce", "--detail", "550 no such user")
	if list := runCLI(t, bin, env, 0, "admin", "mail", "suppressions"); !strings.Contains(list, "bea@example.org") ||
		!strings.Contains(list, "bounce") || !strings.Contains(list, "550 no such user") {
		t.Fatalf("suppressions: %s", list)
	}
	if bad := runCLI(t, bin, env, 2, "admin", "mail", "suppress", "--email", "bea@example.org", "--reason", "spam"); !strings.Contains(bad, "--reason must be bounce or complaint") {
		t.Fatalf("bad reason: %s", bad)
	}
	if bad := runCLI(t, bin, env, 2, "admin", "mail", "suppress", "--reason", "bounce"); !strings.Contains(bad, "--email is required") {
		t.Fatalf("no email: %s", bad)
	}
	if out := runCLI(t, bin, env, 0, "admin", "mail", "unsuppress", "--email", "bea@example.org"); !strings.Contains(out, "mail goes to <bea@example.org> again") {
		t.Fatalf("unsuppress: %s", out)
	}
	in.stop()
}

func TestBadStartsSayWhatToDo(t *testing.T) {
	skipShort(t, "starts the binary")
	bin := buildBinary(t)
	data := dataDir(t)

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	for _, tc := range []struct {
		name   string
		env    []string
		args   []string
		status int
		want   string
	}{
		{"unknown flag", nil, []string{"serve", "--colour", "blue"}, 2, "flag provided but not defined: -colour"},
		{"unknown command", nil, []string{"fly"}, 2, `unknown command "fly"`},
		{"bad database url", []string{"DATABASE_URL=postgres://[::1"}, nil, 2, "DATABASE_URL is not a valid PostgreSQL connection string"},
		{"unreachable database", []string{"DATABASE_URL=postgres://postgres@127.0.0.1:1/puente?connect_timeout=3"}, nil, 1, "cannot reach the database at 127.0.0.1:1/puente"},
		{"port in use", []string{"PUENTE_ADDR=" + busy.Addr().String()}, nil, 1, "already in use"},
		{"bad address", []string{"PUENTE_ADDR=nonsense"}, nil, 2, "PUENTE_ADDR"},
		{"bad base url", []string{"PUENTE_BASE_URL=ftp://x"}, nil, 2, "PUENTE_BASE_URL"},
		{"bad smtp url", []string{"SMTP_URL=smtp://user:hunter2@"}, nil, 2, "SMTP_URL"},
		{"migrate without action", nil, []string{"migrate"}, 2, "migrate needs one of"},
		{"admin without email", nil, []string{"admin", "token", "create"}, 2, "--email is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := cleanEnv(append([]string{"PUENTE_DATA_DIR=" + data}, tc.env...)...)
			out := runCLI(t, bin, env, tc.status, tc.args...)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			last := lines[len(lines)-1]
			if !strings.Contains(last, tc.want) || !strings.HasPrefix(last, "puente: ") {
				t.Fatalf("want one line containing %q, got:\n%s", tc.want, out)
			}
			if strings.Contains(out, "hunter2") {
				t.Fatalf("a password was printed: %s", out)
			}
		})
	}
	if out, _ := exec.Command("pgrep", "-f", data).Output(); len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("failed starts left processes behind: %s", out)
	}

	// -h lists every setting with its environment variable, and exits 0.
	cmd := exec.Command(bin, "serve", "-h")
	cmd.Env = cleanEnv()
	help, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("serve -h: %v\n%s", err, help)
	}
	for _, env := range []string{"PUENTE_ADDR", "PUENTE_BASE_URL", "PUENTE_DATA_DIR", "DATABASE_URL", "SMTP_URL", "PUENTE_MAIL_FROM", "PUENTE_LOG_LEVEL"} {
		if !strings.Contains(string(help), env) {
			t.Errorf("serve -h does not mention %s:\n%s", env, help)
		}
	}
}

func TestMain(m *testing.M) { pgtest.Main(m) }

func mapValues(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// runCLI runs the binary to completion and checks its exit status; it returns stdout and
// stderr together.
func runCLI(t *testing.T, bin string, env []string, wantStatus int, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	status := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		status = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("puente %v: %v", args, err)
	}
	if status != wantStatus {
		t.Fatalf("puente %v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, status, wantStatus, stdout.String(), stderr.String())
	}
	if wantStatus != 0 {
		return stderr.String()
	}
	return stdout.String()
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func apiGet(t *testing.T, u, token string) (int, string) {
	t.Helper()
	code, b := apiDo(t, "GET", u, token, "")
	return code, string(b)
}

// apiDo makes one JSON API call with a personal token and returns the status and body.
func apiDo(t *testing.T, method, u, token, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	return res.StatusCode, b
}

// e2eRequired is PUENTE_E2E=1 (as CI sets it): every end-to-end test must run, and a
// missing browser or tool is a failure, not a skip.
func e2eRequired() bool { return os.Getenv("PUENTE_E2E") == "1" }

// skipShort skips a test that starts the binary under -short, unless e2eRequired.
func skipShort(t *testing.T, why string) {
	t.Helper()
	if testing.Short() && !e2eRequired() {
		t.Skip(why)
	}
}

// missing skips the test for want of what (a browser, a tool), or fails it when
// e2eRequired.
func missing(t *testing.T, what string) {
	t.Helper()
	if e2eRequired() {
		t.Fatalf("PUENTE_E2E=1 but %s", what)
	}
	t.Skipf("%s; set PUENTE_E2E=1 to make this a failure", what)
}
