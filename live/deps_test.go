package live_test

import (
	"os/exec"
	"strings"
	"testing"
)

// Live rooms know nothing of the database: package live declares the storage it needs
// and never imports store, directly or not.
func TestLiveDoesNotImportStore(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/puente-org/puente/live").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/puente-org/puente/store") || strings.Contains(pkg, "jackc/pgx") {
			t.Errorf("package live depends on %s", pkg)
		}
	}
}
