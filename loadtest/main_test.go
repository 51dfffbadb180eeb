package loadtest

import (
	"os"
	"testing"

	"github.com/puente-org/puente/cli"
	"github.com/puente-org/puente/store/pgtest"
)

// TestMain lets the test binary play the children cmd/puente-bench starts: StartFloor and
// StartServer re-execute os.Executable(), which under go test is this binary.
func TestMain(m *testing.M) {
	switch os.Getenv(RoleEnv) {
	case RoleFloor:
		os.Exit(FloorMain())
	case RoleServer:
		os.Exit(cli.Main(os.Args[1:]))
	}
	pgtest.Main(m)
}
