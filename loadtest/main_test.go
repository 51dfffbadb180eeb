package loadtest

import (
	"os"
	"testing"
)

// TestMain lets the test binary play the floor child: StartFloor re-executes
// os.Executable(), which under go test is this binary.
func TestMain(m *testing.M) {
	if os.Getenv(RoleEnv) == roleFloor {
		os.Exit(FloorMain())
	}
	os.Exit(m.Run())
}
