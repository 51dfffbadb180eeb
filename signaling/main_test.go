package signaling

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test must leave no goroutine behind: Run returns only after its writer has exited.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
