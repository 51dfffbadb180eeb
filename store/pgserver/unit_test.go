package pgserver

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseMajor(t *testing.T) {
	for in, want := range map[string]string{
		"postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)\n": "15",
		"postgres (PostgreSQL) 9.6.24\n":                         "9.6",
		"postgres (PostgreSQL) 17devel\n":                        "17",
		"postgres (PostgreSQL) 16beta2\n":                        "16",
	} {
		if got, err := parseMajor(in); err != nil || got != want {
			t.Errorf("parseMajor(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := parseMajor("something else"); err == nil {
		t.Error("parseMajor accepted junk")
	}
}

func TestNewestFirst(t *testing.T) {
	dirs := []string{"/usr/lib/postgresql/9.6/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/13/bin"}
	slices.SortStableFunc(dirs, func(a, b string) int { return slices.Compare(versionKey(b), versionKey(a)) })
	want := []string{"/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/13/bin", "/usr/lib/postgresql/9.6/bin"}
	if !slices.Equal(dirs, want) {
		t.Fatalf("got %v, want %v", dirs, want)
	}
}

func TestSocketDir(t *testing.T) {
	short := "/var/lib/puente/postgres"
	if got := socketDir(short); got != filepath.Join(short, "run") {
		t.Errorf("socketDir(%q) = %q", short, got)
	}
	long := "/var/lib/" + strings.Repeat("x", 90)
	got := socketDir(long)
	if !strings.HasPrefix(got, "/tmp/puente-pg-") || got != socketDir(long) || got == socketDir(long+"y") {
		t.Errorf("socketDir(long) = %q: want a stable /tmp/puente-pg-<hash of dir>", got)
	}
	if n := len(filepath.Join(got, socketName(pgPort))); n > maxSocketPath {
		t.Errorf("socket path %d bytes", n)
	}
}

func TestConnStringQuoting(t *testing.T) {
	s := &Server{host: "/srv/my data/run", port: 5432}
	want := `host='/srv/my data/run' port=5432 user=postgres dbname=app sslmode=disable`
	if got := s.ConnString("app"); got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	s.password = "it's"
	if got := s.ConnString("app"); !strings.HasSuffix(got, ` password='it\'s'`) {
		t.Errorf("got %s", got)
	}
}
