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
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), tc.args, &out, &errOut)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.flag) {
			t.Errorf("%q: got %v, want a usage error naming %s", tc.args, err, tc.flag)
		}
	}
}
