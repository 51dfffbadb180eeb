package mail

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind, which
// catches a Deliverer that does not stop or a Send that keeps running after
// its context was cancelled.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
