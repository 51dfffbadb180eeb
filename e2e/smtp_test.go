package e2e

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/puente-org/puente/mail/smtptest"
	"github.com/puente-org/puente/store/pgtest"
)

var textLink = regexp.MustCompile(`http://\S+/sign-in/link\?token=\S+`)

// With DATABASE_URL and SMTP_URL set, the sign-in link arrives by real SMTP, in the
// language the person used, and the mailbox page is not served.
func TestSignInByEmailOverSMTP(t *testing.T) {
	skipShort(t, "starts the binary")
	bin := buildBinary(t)
	smtp := smtptest.NewServer(t)
	env := cleanEnv("PUENTE_DATA_DIR="+dataDir(t), "DATABASE_URL="+pgtest.NewURL(t), "SMTP_URL="+smtp.URL(),
		"PUENTE_MAIL_FROM=Puente <seminarios@example.org>")
	in := start(t, bin, env)

	ana := newPerson(t, in.baseURL)
	if code, _ := ana.page("GET", "/dev/mail", nil); code != 404 {
		t.Fatalf("mailbox page served with SMTP configured: %d", code)
	}
	ana.page("GET", "/lang/es?next=/", nil)
	ana.page("GET", "/sign-in", nil)
	if code, body := ana.page("POST", "/sign-in", mapValues("email", "ana@example.org")); code != 200 || !strings.Contains(body, "Revisa tu correo") {
		t.Fatalf("request link: %d %s", code, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msg, err := smtp.WaitForMessage(ctx, func(r smtptest.Received) bool { return slices.Contains(r.To, "ana@example.org") })
	if err != nil {
		t.Fatalf("no email arrived: %v", err)
	}
	if msg.Subject != "Tu enlace para entrar a Puente" || !strings.Contains(msg.Header.Get("From"), "seminarios@example.org") {
		t.Fatalf("email: subject %q from %q", msg.Subject, msg.Header.Get("From"))
	}
	link := textLink.FindString(msg.Text)
	if link == "" || !strings.Contains(msg.HTML, "Entrar a Puente") {
		t.Fatalf("no link in the email:\n%s", msg.Text)
	}
	landed := ana.followLink(link)
	if !strings.Contains(landed, "Has iniciado sesión") {
		t.Fatalf("not signed in:\n%s", landed)
	}
	in.stop()
}
