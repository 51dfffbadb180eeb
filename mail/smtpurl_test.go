package mail

import (
	"strings"
	"testing"
)

func TestParseSMTPURL(t *testing.T) {
	tests := []struct {
		raw  string
		want smtpConfig
	}{
		{"smtp://mail.example.org", smtpConfig{host: "mail.example.org", port: 587, startTLS: startTLSOpportunistic}},
		{"smtps://mail.example.org", smtpConfig{host: "mail.example.org", port: 465, implicitTLS: true}},
		{"SMTP://mail.example.org:2525/?starttls=required", smtpConfig{host: "mail.example.org", port: 2525, startTLS: startTLSRequired}},
		{"smtp://localhost:1025?starttls=none", smtpConfig{host: "localhost", port: 1025, startTLS: startTLSNone}},
		{"smtp://[::1]:25?starttls=opportunistic", smtpConfig{host: "::1", port: 25}},
		{
			"smtp://puente:s3cr3t@mail.example.org?helo=puente.example.org&insecure_skip_verify=true",
			smtpConfig{host: "mail.example.org", port: 587, user: "puente", password: "s3cr3t", hasAuth: true, helo: "puente.example.org", insecure: true},
		},
		{
			// Percent-encoded reserved characters are decoded.
			"smtps://us%40er%2Bx:p%3Ass%2Fw%40rd%25@mail.example.org",
			smtpConfig{host: "mail.example.org", port: 465, implicitTLS: true, user: "us@er+x", password: "p:ss/w@rd%", hasAuth: true},
		},
		{
			// Unencoded "@", "/", "?" in the password: everything before the last "@" is user info.
			"smtp://user:p@ss/w?rd@mail.example.org:2525",
			smtpConfig{host: "mail.example.org", port: 2525, user: "user", password: "p@ss/w?rd", hasAuth: true},
		},
		{"smtp://apikey@mail.example.org", smtpConfig{host: "mail.example.org", port: 587, user: "apikey", hasAuth: true}},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, err := parseSMTPURL(tt.raw)
			if err != nil {
				t.Fatalf("parseSMTPURL: %v", err)
			}
			got.redacted = ""
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// The password in these cases is "hunter2" (or contains it), and none of the
// errors may contain it, nor any part of a password that is not URL syntax.
func TestParseSMTPURLErrors(t *testing.T) {
	const secret = "hunter2"
	tests := []struct {
		raw     string
		wantMsg string // substring of the error
	}{
		{"", "empty"},
		{"mail.example.org", "must start with smtp:// or smtps://"},
		{"user:hunter2@mail.example.org:25", "must start with smtp:// or smtps://"},
		{"http://user:hunter2@mail.example.org", `unknown scheme "http"`},
		{"user:hunter2@smtp://mail.example.org", "must start with smtp:// or smtps://"},
		{"smtp://user:hunter2@", "missing host"},
		{"smtp://user:hunter2@:25", "missing host"},
		{"smtp://user:hunter2@mail.example.org:99999", "port"},
		{"smtp://user:hunter2@mail.example.org:0", "port"},
		{"smtp://user:hunter2@mail.example.org:abc", "port"},
		{"smtp://user:hunter2@[::1", "not a valid URL"},
		{"smtp://user:hunter2@mail.example.org/inbox", "unexpected path"},
		{"smtp://user:hunter2@mail.example.org#x", "fragment"},
		{"smtp://:hunter2@mail.example.org", "empty user name"},
		{"smtp://user:hun%zzter2@mail.example.org", "password is not valid percent-encoding"},
		{"smtp://us%zzer:hunter2@mail.example.org", "user name is not valid percent-encoding"},
		{"smtp://user:hunter2@mail.example.org?tls=yes", `unknown parameter "tls"`},
		{"smtp://user:hunter2@mail.example.org?starttls=maybe", "starttls"},
		{"smtp://user:hunter2@mail.example.org?starttls=none&starttls=required", "given 2 times"},
		{"smtps://user:hunter2@mail.example.org?starttls=required", "does not apply to smtps"},
		{"smtp://user:hunter2@mail.example.org?insecure_skip_verify=yes", "insecure_skip_verify"},
		{"smtp://user:hunter2@mail.example.org?helo=", "helo"},
		{"smtp://user:hunter2@mail.example.org?helo=a%20b", "helo"},
		{"smtp://user:hunter2@mail.example.org?%zz", "malformed query"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			_, err := parseSMTPURL(tt.raw)
			if err == nil {
				t.Fatal("parseSMTPURL succeeded, want error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "SMTP_URL") {
				t.Errorf("error %q does not name SMTP_URL", msg)
			}
			if !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("error %q does not contain %q", msg, tt.wantMsg)
			}
			for _, leak := range []string{secret, "hun", "ter2"} {
				if strings.Contains(msg, leak) {
					t.Errorf("error %q leaks the password (%q)", msg, leak)
				}
			}
			// The same guarantee through the public constructor.
			if _, err := NewSMTPSender(tt.raw, "Puente <no-reply@example.org>"); err == nil || strings.Contains(err.Error(), secret) {
				t.Errorf("NewSMTPSender error = %v", err)
			}
		})
	}
}

func TestNewSMTPSenderFrom(t *testing.T) {
	const url = "smtp://localhost:1025?starttls=none"
	for _, from := range []string{"Puente <no-reply@example.org>", "no-reply@example.org", "Puénte Señal <no-reply@example.org>"} {
		if _, err := NewSMTPSender(url, from); err != nil {
			t.Errorf("NewSMTPSender(%q): %v", from, err)
		}
	}
	for _, from := range []string{"", "Puente", "Puente <no-reply>", "a@b, c@d", "Puente <no-reply@example.org"} {
		if _, err := NewSMTPSender(url, from); err == nil {
			t.Errorf("NewSMTPSender(%q) succeeded, want error", from)
		}
	}
}

func TestSMTPSenderStringRedactsPassword(t *testing.T) {
	s, err := NewSMTPSender("smtp://puente:hunter2@mail.example.org", "no-reply@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.String(); strings.Contains(got, "hunter2") || !strings.Contains(got, "puente:xxxxx@mail.example.org") {
		t.Errorf("String() = %q", got)
	}
}
