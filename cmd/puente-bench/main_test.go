package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// Bad flags are refused before anything starts, with a message naming the flag.
func TestFlagsAreValidated(t *testing.T) {
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"--scenario", "restart", "--url", "http://127.0.0.1:1"}, "--url"},
		{[]string{"--scenario", "restart", "--viewers", "0"}, "--viewers"},
		{[]string{"--scenario", "restart", "--duration", "1s"}, "--duration"},
		{[]string{"--scenario", "restart", "--resume-timeout", "10ms"}, "--resume-timeout"},
		{[]string{"--scenario", "crash"}, "--scenario"},
		{[]string{"--viewers", "-1"}, "--viewers"},
		{[]string{"--server-binary", "/nonexistent/puente"}, "--server-binary"},
		{[]string{"--server-binary", "/"}, "--server-binary"},
		{[]string{"--scenario", "simulcast", "--viewers", "5", "--constrained", "6"}, "--constrained"},
		{[]string{"--scenario", "simulcast", "--constrained", "-1"}, "--constrained"},
		{[]string{"--scenario", "simulcast", "--constrained", "2", "--constrained-kbps", "0"}, "--constrained-kbps"},
		{[]string{"--scenario", "simulcast", "--constrained-kbps", "2000000"}, "--constrained-kbps"},
		{[]string{"--scenario", "feed", "--constrained", "2"}, "--constrained"},
		{[]string{"--scenario", "restart", "--constrained", "2"}, "--constrained"},
		{[]string{"--scenario", "capacity", "--step", "0"}, "--step"},
		{[]string{"--scenario", "capacity", "--pin=false"}, "--pin"},
		{[]string{"--scenario", "capacity", "--url", "http://127.0.0.1:1", "--database-url", "postgres://x"}, "--server-pid"},
		{[]string{"--scenario", "webinar", "--step", "10"}, "--step"},
		{[]string{"--scenario", "simulcast", "--light-viewers"}, "--light-viewers"},
		{[]string{"--scenario", "feed", "--light-viewers=false"}, "--light-viewers"},
		{[]string{"--adapt-to-bandwidth", "--url", "http://127.0.0.1:1", "--database-url", "postgres://x"}, "--adapt-to-bandwidth"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), tc.args, &out, &errOut)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.flag) {
			t.Errorf("%q: got %v, want a usage error naming %s", tc.args, err, tc.flag)
		}
	}
}
