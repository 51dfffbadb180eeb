package smtptest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const rawMessage = "From: =?UTF-8?B?Sm9zw6k=?= <jose@example.com>\r\n" +
	"To: ana@example.com\r\n" +
	"Subject: =?UTF-8?B?wr9TZcOxYWw/?= y =?ISO-8859-1?Q?=F1and=FA?=\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/alternative; boundary=XYZ\r\n" +
	"\r\n" +
	"--XYZ\r\n" +
	"Content-Type: text/plain; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"SG9sYSwgSm9zw6k6\r\nCmzDrW5lYQ==\r\n" +
	"--XYZ\r\n" +
	"Content-Type: text/html; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"<p>aqu=C3=AD muy largo=\r\n sin salto</p>\r\n" +
	"--XYZ--\r\n"

func send(t *testing.T, addr string, auth sasl.Client) error {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	if auth != nil {
		if err := c.Auth(auth); err != nil {
			return err
		}
	}
	return c.SendMail("jose@example.com", []string{"ana@example.com"}, strings.NewReader(rawMessage))
}

func TestServerParsesMessage(t *testing.T) {
	s := NewServer(t)
	if err := send(t, s.Addr(), nil); err != nil {
		t.Fatalf("send: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	got, err := s.WaitForMessage(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.ParseError != nil {
		t.Fatal(got.ParseError)
	}
	if got.Subject != "¿Señal? y ñandú" {
		t.Errorf("Subject = %q", got.Subject)
	}
	if got.Text != "Hola, José:\nlínea" {
		t.Errorf("Text = %q", got.Text)
	}
	if got.HTML != "<p>aquí muy largo sin salto</p>" {
		t.Errorf("HTML = %q", got.HTML)
	}
	if got.From != "jose@example.com" || len(got.To) != 1 || got.To[0] != "ana@example.com" || got.TLS || got.AuthUser != "" {
		t.Errorf("envelope/session = %+v", got)
	}
	if string(got.Data) != rawMessage {
		t.Errorf("Data differs from what was sent")
	}
}

func TestServerFailureKnobs(t *testing.T) {
	s := NewServer(t)
	s.FailTemporarily(1)
	s.FailPermanently(1)
	for _, wantCode := range []int{451, 550, 0} {
		err := send(t, s.Addr(), nil)
		var smtpErr *smtp.SMTPError
		switch {
		case wantCode == 0 && err != nil:
			t.Errorf("third send: %v", err)
		case wantCode != 0 && (!errors.As(err, &smtpErr) || smtpErr.Code != wantCode):
			t.Errorf("send = %v, want code %d", err, wantCode)
		}
	}
	if n := len(s.Messages()); n != 1 {
		t.Errorf("%d messages accepted, want 1", n)
	}
}

func TestServerAuth(t *testing.T) {
	s := NewServer(t, WithAuth("u", "p"))
	if err := send(t, s.Addr(), nil); err == nil {
		t.Error("send without AUTH accepted")
	}
	if err := send(t, s.Addr(), sasl.NewPlainClient("", "u", "wrong")); err == nil {
		t.Error("wrong password accepted")
	}
	if err := send(t, s.Addr(), sasl.NewPlainClient("", "u", "p")); err != nil {
		t.Errorf("right password: %v", err)
	}
	if got := s.AuthAttempts(); got != 2 {
		t.Errorf("AuthAttempts = %d, want 2", got)
	}
	if msgs := s.Messages(); len(msgs) != 1 || msgs[0].AuthUser != "u" {
		t.Errorf("messages = %+v", msgs)
	}
}

func TestWaitForMessageHonoursContext(t *testing.T) {
	s := NewServer(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if _, err := s.WaitForMessage(ctx, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want DeadlineExceeded", err)
	}
}

func TestURL(t *testing.T) {
	for _, tc := range []struct {
		opts []Option
		want string
	}{
		{nil, "smtp://%s?starttls=none"},
		{[]Option{WithSTARTTLS()}, "smtp://%s?insecure_skip_verify=true&starttls=required"},
		{[]Option{WithImplicitTLS()}, "smtps://%s?insecure_skip_verify=true"},
	} {
		s := NewServer(t, tc.opts...)
		if want := strings.Replace(tc.want, "%s", s.Addr(), 1); s.URL() != want {
			t.Errorf("URL() = %q, want %q", s.URL(), want)
		}
	}
	s := NewServer(t)
	if got, want := s.URLWithUser("us er", "p@ss"), "smtp://us%20er:p%40ss@"+s.Addr()+"?starttls=none"; got != want {
		t.Errorf("URLWithUser = %q, want %q", got, want)
	}
}

// HoldAfter: n messages are accepted, the next is received but neither answered nor
// recorded while the client waits, and later ones are accepted again.
func TestServerHoldAfter(t *testing.T) {
	s := NewServer(t)
	held := s.HoldAfter(2)
	for range 2 {
		if err := send(t, s.Addr(), nil); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	c, err := smtp.Dial(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	third := make(chan error, 1)
	go func() {
		defer c.Close()
		third <- c.SendMail("jose@example.com", []string{"held@example.com"}, strings.NewReader(rawMessage))
	}()
	select {
	case <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("the third message was not held")
	}
	if err := send(t, s.Addr(), nil); err != nil {
		t.Fatalf("send after the held one: %v", err)
	}
	select {
	case err := <-third:
		t.Fatalf("the held message was answered: %v", err)
	default:
	}
	msgs := s.Messages()
	if len(msgs) != 3 {
		t.Fatalf("%d messages recorded, want 3 (not the held one)", len(msgs))
	}
	for _, m := range msgs {
		if m.To[0] == "held@example.com" {
			t.Fatal("the held message was recorded")
		}
	}
}
