package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Two people register in real browsers for a session with one place; the second waits;
// the first cancels; the second's promotion email arrives; the organiser exports the CSV.
func TestBrowserRegistrationWaitlistAndCSV(t *testing.T) {
	skipShort(t, "starts the binary and browsers")
	bin := buildBinary(t)
	env := cleanEnv("PUENTE_DATA_DIR=" + dataDir(t))
	runCLI(t, bin, env, 0, "admin", "user", "create", "--email", "admin@example.org", "--admin")
	token := lastLine(runCLI(t, bin, env, 0, "admin", "token", "create", "--email", "org@example.org"))
	runCLI(t, bin, env, 0, "admin", "user", "create", "--email", "org2@example.org", "--organiser") // keeps org@ a plain account
	in := start(t, bin, env)

	api := apiCaller(t, in.baseURL, token)
	// org@ needs the organiser role to create the series: the admin grants it through the API.
	adminToken := lastLine(runCLI(t, bin, env, 0, "admin", "token", "create", "--email", "admin@example.org"))
	people := apiCaller(t, in.baseURL, adminToken)("GET", "/api/v1/people?q=org@example.org", "")
	orgID := people["people"].([]any)[0].(map[string]any)["id"]
	if code, b := apiDo(t, "PUT", fmt.Sprintf("%s/api/v1/people/%v/roles", in.baseURL, orgID), adminToken,
		`{"is_admin":false,"is_organiser":true}`); code != 200 {
		t.Fatalf("grant organiser: %d %s", code, b)
	}

	day := firstThursdayOfJanuary()
	s := api("POST", "/api/v1/series", fmt.Sprintf(`{"title":"One Seat Seminar","timezone":"Europe/London","start_date":"%s",
		"start_time":"15:00","capacity":1}`, day.Format(time.DateOnly)))
	occ := api("GET", fmt.Sprintf("/api/v1/series/%v/occurrences?from=%s&to=%s", s["id"], day.Format(time.DateOnly), day.Format(time.DateOnly)), "")
	occID := occ["items"].([]any)[0].(map[string]any)["id"]
	page := fmt.Sprintf("%s/occurrences/%v", in.baseURL, occID)

	ana := newBrowser(t)
	browserSignIn(t, ana, in.baseURL, "ana@example.org")
	step(t, ana, "register", chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`#register-form`)),
		chromedp.SendKeys(chromedp.CSS(`#reg-affiliation`), "Universidad de Chile"), chromedp.Submit(chromedp.CSS(`#register-form`)))
	waitFor(t, ana, "registered", `(document.getElementById("registration-status") || {}).textContent?.includes("You are registered")`)

	bea := newBrowser(t)
	browserSignIn(t, bea, in.baseURL, "bea@example.org")
	// The session is full: the page says so and its action is the waiting list.
	step(t, bea, "the full session", chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`#register-form`)))
	waitFor(t, bea, "the waiting-list action", fmt.Sprintf(`document.body.textContent.includes(%q) &&
		document.querySelector('#register-form button[type=submit], #register-form input[type=submit]').textContent.includes(%q)`,
		catalogue(t, "places.full"), catalogue(t, "registration.join_waitlist")))
	screenshot(t, bea, "full-session")
	step(t, bea, "join the waiting list", chromedp.Submit(chromedp.CSS(`#register-form`)))
	waitFor(t, bea, "waitlisted", `(document.getElementById("registration-status") || {}).textContent?.includes("number 1 on the waitlist")`)
	screenshot(t, bea, "waitlisted")
	step(t, bea, "my seminars", chromedp.Navigate(in.baseURL+"/my-seminars"))
	waitFor(t, bea, "waiting on my seminars", `(document.getElementById("waiting") || {}).textContent?.includes("Number 1 on the waiting list") &&
		!!document.querySelector('#waiting button[data-action="leave-waitlist"]')`)
	screenshot(t, bea, "my-seminars")

	step(t, ana, "cancel", chromedp.Click(chromedp.CSS(`form[action$="/unregister"] button`)))
	waitFor(t, ana, "cancelled", `document.body.textContent.includes("Your registration is cancelled")`)

	step(t, bea, "mailbox", chromedp.Navigate(in.baseURL+"/dev/mail"))
	waitFor(t, bea, "promotion email", `[...document.querySelectorAll(".mail-list li")].some(li => li.textContent.includes("You have a place") && li.textContent.includes("bea@example.org"))`)
	step(t, bea, "session page", chromedp.Navigate(page))
	waitFor(t, bea, "promoted", `(document.getElementById("registration-status") || {}).textContent?.includes("You are registered")`)

	org := newBrowser(t)
	browserSignIn(t, org, in.baseURL, "org@example.org")
	step(t, org, "registrations", chromedp.Navigate(fmt.Sprintf("%s/organise/occurrences/%v/registrations", in.baseURL, occID)))
	waitFor(t, org, "counts", `document.body.textContent.includes("Confirmed (1)") && document.body.textContent.includes("Cancelled (1)")`)
	screenshot(t, org, "registrations")
	// fetch's text() drops a byte-order mark, so read the bytes to see it is there.
	csv, err := chromedp.Run(org, chromedp.Evaluate[string](`fetch(document.querySelector('a[href$="registrations.csv"]').href)
		.then(r => r.arrayBuffer()).then(b => { const u = new Uint8Array(b);
			return (u[0] === 0xEF && u[1] === 0xBB && u[2] === 0xBF ? "BOM " : "NOBOM ") + new TextDecoder().decode(u); })`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("download the CSV: %v", err)
	}
	if !strings.Contains(csv, "bea@example.org") || !strings.Contains(csv, "Universidad de Chile") || !strings.HasPrefix(csv, "BOM ") {
		t.Fatalf("CSV:\n%s", csv)
	}
	in.stop()
}
