package e2e

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/puente-org/puente/mail/smtptest"
	"github.com/puente-org/puente/store/pgtest"
)

// A person whose browser is in London registers, by email, from the Spanish version of a
// session page of a Santiago series. Their profile then holds London and Spanish (nobody
// asked them), and the confirmation, arriving by real SMTP, is in Spanish with London
// times; the link in it brings them back signed in to the page they registered on.
func TestBrowserZoneAndLanguageAreSavedAtRegistration(t *testing.T) {
	skipShort(t, "starts the binary and a browser")
	bin := buildBinary(t)
	smtp := smtptest.NewServer(t)
	env := cleanEnv("PUENTE_DATA_DIR="+dataDir(t), "DATABASE_URL="+pgtest.NewURL(t), "SMTP_URL="+smtp.URL(),
		"PUENTE_MAIL_FROM=Puente <seminarios@example.org>")
	runCLI(t, bin, env, 0, "admin", "user", "create", "--email", "admin@example.org", "--admin")
	runCLI(t, bin, env, 0, "admin", "user", "create", "--email", "org@example.org", "--organiser")
	token := lastLine(runCLI(t, bin, env, 0, "admin", "token", "create", "--email", "org@example.org"))
	in := start(t, bin, env)

	// 12:00 in Santiago (-03 in January) is 15:00 in London (GMT).
	day := firstThursdayOfJanuary()
	api := apiCaller(t, in.baseURL, token)
	s := api("POST", "/api/v1/series", fmt.Sprintf(`{"title":"Litio en Santiago","timezone":"America/Santiago",
		"start_date":"%s","start_time":"12:00","duration_minutes":60,"capacity":10}`, day.Format(time.DateOnly)))
	occ := api("GET", fmt.Sprintf("/api/v1/series/%v/occurrences?from=%s&to=%s", s["id"], day.Format(time.DateOnly), day.Format(time.DateOnly)), "")
	path := fmt.Sprintf("/occurrences/%v", occ["items"].([]any)[0].(map[string]any)["id"])

	ctx := newBrowser(t) // its interface language is English (en-GB)
	if _, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Europe/London"}); err != nil {
		t.Fatal(err)
	}
	step(t, ctx, "session page", chromedp.Navigate(in.baseURL+path))
	waitFor(t, ctx, "browser zone reported", `document.readyState === "complete" && document.cookie.includes("puente_tz=Europe%2FLondon")`)
	step(t, ctx, "switch to Spanish", chromedp.Click(chromedp.CSS(`a[hreflang="es"]`)))
	waitFor(t, ctx, "back on the session page, in Spanish",
		fmt.Sprintf(`document.documentElement.lang === "es" && location.pathname === %q && document.readyState === "complete"`, path))
	waitFor(t, ctx, "zone in the form", `document.querySelector('#register-email-form input[name="browser_zone"]').value === "Europe/London"`)
	screenshot(t, ctx, "register-by-email-es")
	step(t, ctx, "register by email",
		chromedp.SendKeys(chromedp.CSS(`#reg-email`), "lucia@example.cl"),
		chromedp.SendKeys(chromedp.CSS(`#reg-name2`), "Lucía Fernández"),
		chromedp.Submit(chromedp.CSS(`#register-email-form`)),
		chromedp.WaitVisible(chromedp.CSS(`#registered-by-email`)))

	wait, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msg, err := smtp.WaitForMessage(wait, func(r smtptest.Received) bool { return slices.Contains(r.To, "lucia@example.cl") })
	if err != nil {
		t.Fatalf("no confirmation arrived: %v", err)
	}
	when := fmt.Sprintf("jueves %d de enero de %d, 15:00–16:00 Londres", day.Day(), day.Year())
	// Registered by email, without signing in: the place is held until the address is
	// confirmed (anyone could have typed it).
	if !strings.HasPrefix(msg.Subject, "Confirma tu lugar") {
		t.Errorf("subject not in Spanish: %q", msg.Subject)
	}
	for _, want := range []string{"Hola, Lucía Fernández", when} {
		if !strings.Contains(msg.Text, want) {
			t.Errorf("confirmation lacks %q:\n%s", want, msg.Text)
		}
	}
	if strings.Contains(msg.Text, "12:00–13:00") {
		t.Errorf("confirmation shows the organiser's zone as the reader's:\n%s", msg.Text)
	}

	confirm := regexp.MustCompile(`http://\S+/registrations/confirm/[0-9]+\.[A-Za-z0-9_\-]+`).FindString(msg.Text)
	if confirm == "" {
		t.Fatalf("no confirmation link in the email:\n%s", msg.Text)
	}
	step(t, ctx, "confirm the place", chromedp.Navigate(confirm), chromedp.WaitVisible(chromedp.CSS(`#confirm-form`)),
		chromedp.Submit(chromedp.CSS(`#confirm-form`)), chromedp.WaitVisible(chromedp.CSS(`#confirmed`)))
	confirmed, err := smtp.WaitForMessage(wait, func(r smtptest.Received) bool {
		return slices.Contains(r.To, "lucia@example.cl") && strings.HasPrefix(r.Subject, "Inscripción confirmada")
	})
	if err != nil {
		t.Fatalf("no confirmation of the place arrived: %v", err)
	}
	if !strings.Contains(confirmed.Text, when) {
		t.Errorf("the confirmed place's email lacks %q:\n%s", when, confirmed.Text)
	}

	link := textLink.FindString(msg.Text)
	if link == "" {
		t.Fatalf("no sign-in link in the confirmation:\n%s", msg.Text)
	}
	step(t, ctx, "follow the link", chromedp.Navigate(link))
	waitFor(t, ctx, "signed in on the session page",
		fmt.Sprintf(`location.pathname === %q && document.querySelector('form[action="/sign-out"]') !== null`, path))
	step(t, ctx, "profile", chromedp.Navigate(in.baseURL+"/profile"), chromedp.WaitVisible(chromedp.CSS(`#profile-form`)))
	screenshot(t, ctx, "profile-learned")
	got := eval[map[string]string](t, ctx, `({zone: document.getElementById("time_zone").value,
		language: document.getElementById("language").value, name: document.getElementById("name").value,
		state: document.getElementById("time_zone-state").textContent,
		suggested: String(!document.getElementById("use-browser-zone").hidden)})`)
	want := map[string]string{"zone": "Europe/London", "language": "es", "name": "Lucía Fernández", "suggested": "false"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("profile %s = %q, want %q", k, got[k], v)
		}
	}
	if !strings.Contains(got["state"], "Europe/London") {
		t.Errorf("profile zone state: %q", got["state"])
	}

	// Cleared, the zone shows as not set, and the browser's is offered, not pretended.
	eval[bool](t, ctx, `(document.getElementById("time_zone").value = "", document.getElementById("profile-form").requestSubmit(), true)`)
	waitFor(t, ctx, "zone not set", `document.readyState === "complete" && document.getElementById("time_zone").value === "" &&
		document.getElementById("time_zone-state").textContent.includes("sin definir") &&
		!document.getElementById("use-browser-zone").hidden &&
		document.getElementById("use-browser-zone").textContent.includes("Europe/London")`)
	screenshot(t, ctx, "profile-zone-unset")
	step(t, ctx, "take the browser's zone", chromedp.Click(chromedp.CSS(`#use-browser-zone`)), chromedp.Submit(chromedp.CSS(`#profile-form`)))
	waitFor(t, ctx, "zone saved again", `document.readyState === "complete" &&
		document.getElementById("time_zone-state").textContent.includes("Guardado: Europe/London")`)

	// The join link: the room opens at one instant, in London time, counted down.
	join := regexp.MustCompile(`http://\S+/join/[0-9]+\.[A-Za-z0-9_\-]+`).FindString(confirmed.Text)
	if join == "" {
		t.Fatalf("no join link in the confirmation:\n%s", confirmed.Text)
	}
	step(t, ctx, "join page", chromedp.Navigate(join))
	waitFor(t, ctx, "countdown", `/^\d+\s?\S+ \d\d:\d\d:\d\d$/.test(document.getElementById("countdown").textContent)`)
	opens := eval[string](t, ctx, `document.querySelector("#join .notice").textContent`)
	if strings.Contains(opens, "–") || !strings.Contains(opens, " Londres (GMT).") {
		t.Errorf("the room's opening: %q", opens)
	}
	screenshot(t, ctx, "join-countdown")
	in.stop()
}
