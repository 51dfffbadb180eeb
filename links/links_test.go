package links

import "testing"

func TestLinks(t *testing.T) {
	s := New([]byte("0123456789abcdef0123456789abcdef"))
	tok := s.Token(Join, 42, 0)
	if err := s.Check(Join, tok, 0); err != nil {
		t.Fatal(err)
	}
	if id, err := ID(tok); err != nil || id != 42 {
		t.Fatalf("id %d %v", id, err)
	}
	for name, bad := range map[string]func() error{
		"other purpose": func() error { return s.Check(Cancel, tok, 0) },
		"revoked":       func() error { return s.Check(Join, tok, 1) },
		"other key":     func() error { return New([]byte("another key, 32 bytes long......")).Check(Join, tok, 0) },
		"other id":      func() error { return s.Check(Join, "43"+tok[2:], 0) },
		"garbage":       func() error { return s.Check(Join, "nonsense", 0) },
		"empty":         func() error { return s.Check(Join, "", 0) },
	} {
		if bad() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
