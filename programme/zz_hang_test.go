package programme

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestZZCorpus(t *testing.T) {
	files, _ := filepath.Glob("/root/.cache/go-build/fuzz/github.com/puente-org/puente/programme/FuzzValidate/*")
	start := wall(2026, 1, 8, 15, 0)
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, f := range files {
		b, _ := os.ReadFile(f)
		line := strings.Split(string(b), "\n")[1]
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(line, "string("), ")"))
		if err != nil {
			t.Log("skip", line)
			continue
		}
		t0 := time.Now()
		r := Rule{Zone: "Europe/London", Start: start, Duration: time.Hour, RRule: s}
		if r.Validate() == nil {
			r.Expand(from, from.AddDate(2, 0, 0), 50)
		}
		if d := time.Since(t0); d > 5*time.Millisecond {
			t.Logf("%v %q", d, s)
		}
	}
}
