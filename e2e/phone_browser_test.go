package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// On a phone: an attendee finds a talk by searching "maria" for its speaker María Núñez
// (accents and case aside), opens it and registers; and a conference's timetable shows
// its plenary across both tracks, with the time column kept in view while the tracks
// scroll sideways. Screenshots of each step are kept.
func TestBrowserPhoneSearchRegisterAndTimetable(t *testing.T) {
	skipShort(t, "starts the binary and a browser")
	bin := buildBinary(t)
	env := cleanEnv("PUENTE_DATA_DIR=" + dataDir(t))
	runCLI(t, bin, env, 0, "admin", "user", "create", "--email", "admin@example.org", "--admin")
	runCLI(t, bin, env, 0, "admin", "user", "create", "--email", "org@example.org", "--organiser")
	runCLI(t, bin, env, 0, "admin", "user", "create", "--email", "bea@example.org")
	token := lastLine(runCLI(t, bin, env, 0, "admin", "token", "create", "--email", "org@example.org"))
	in := start(t, bin, env)
	api := apiCaller(t, in.baseURL, token)

	day := firstThursdayOfJanuary()
	s := api("POST", "/api/v1/series", fmt.Sprintf(`{"title":"Seminario de baterías","timezone":"America/Santiago",
		"start_date":"%s","start_time":"12:00","capacity":30}`, day.Format(time.DateOnly)))
	occ := api("GET", fmt.Sprintf("/api/v1/series/%v/occurrences?from=%s&to=%s", s["id"], day.Format(time.DateOnly), day.Format(time.DateOnly)), "")
	occID := occ["items"].([]any)[0].(map[string]any)["id"]
	api("PATCH", fmt.Sprintf("/api/v1/occurrences/%v", occID), `{"title":"Reciclaje de litio",
		"speakers":[{"name":"María Núñez","affiliation":"Universidad de Chile"}]}`)

	confDay := day.AddDate(0, 1, 0)
	conf := api("POST", "/api/v1/conferences", fmt.Sprintf(`{"title":"Lithium Week","timezone":"America/Santiago",
		"start_date":"%s","end_date":"%s"}`, confDay.Format(time.DateOnly), confDay.Format(time.DateOnly)))
	a := api("POST", fmt.Sprintf("/api/v1/conferences/%v/tracks", conf["id"]), `{"name":"Cathodes","room":"Sala A"}`)
	b := api("POST", fmt.Sprintf("/api/v1/conferences/%v/tracks", conf["id"]), `{"name":"Recycling","room":"Sala B"}`)
	date := confDay.Format(time.DateOnly)
	api("POST", fmt.Sprintf("/api/v1/conferences/%v/sessions", conf["id"]), fmt.Sprintf(`{"title":"Opening keynote","start_date":"%s","start_time":"09:00"}`, date))
	api("POST", fmt.Sprintf("/api/v1/conferences/%v/sessions", conf["id"]), fmt.Sprintf(`{"title":"Layered oxides","start_date":"%s","start_time":"10:00","track_id":%v}`, date, a["id"]))
	api("POST", fmt.Sprintf("/api/v1/conferences/%v/sessions", conf["id"]), fmt.Sprintf(`{"title":"Black mass","start_date":"%s","start_time":"10:00","track_id":%v}`, date, b["id"]))

	dir := artifactDir(t)
	ctx := newBrowser(t)
	base := in.baseURL
	browserSignIn(t, ctx, base, "bea@example.org")

	// Search on a phone.
	step(t, ctx, "programme on a phone", chromedp.EmulateViewport(phone.width, phone.height), chromedp.Navigate(base+"/programme"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=q]`)))
	step(t, ctx, "search maria", chromedp.SendKeys(chromedp.CSS(`input[name=q]`), "maria"), chromedp.Submit(chromedp.CSS(`input[name=q]`)))
	waitFor(t, ctx, "the talk found", `location.search.includes("q=maria") && document.body.textContent.includes("Reciclaje de litio")`)
	saveScreenshot(t, ctx, dir, "phone-search-maria")
	if n := eval[int](t, ctx, `document.querySelectorAll('main a[href^="/occurrences/"]').length`); n != 1 {
		t.Errorf("searching maria lists %d talks, want the one by María Núñez", n)
	}
	step(t, ctx, "open the talk", chromedp.Click(chromedp.CSS(`main a[href^="/occurrences/"]`)))
	waitFor(t, ctx, "the talk's page", `document.querySelector("#register-form") !== null && document.body.textContent.includes("María Núñez")`)
	step(t, ctx, "register", chromedp.Submit(chromedp.CSS(`#register-form`)))
	waitFor(t, ctx, "registered", `document.querySelector("#registration-status") !== null`)
	saveScreenshot(t, ctx, dir, "phone-registered")
	if w := eval[int](t, ctx, `document.documentElement.scrollWidth - window.innerWidth`); w > 0 {
		t.Errorf("the talk's page scrolls sideways on a phone by %d px", w)
	}

	// The conference timetable on a phone.
	step(t, ctx, "conference on a phone", chromedp.Navigate(base+"/conferences/"+fmt.Sprint(conf["slug"])),
		chromedp.WaitVisible(chromedp.CSS(`.timetable`)))
	saveScreenshot(t, ctx, dir, "phone-timetable")
	geometry := eval[map[string]float64](t, ctx, `(() => {
		const r = (e) => e.getBoundingClientRect();
		const plenary = document.querySelector(".tt-cell.plenary");
		const cells = [...document.querySelectorAll(".tt-cell:not(.plenary)")];
		const heads = [...document.querySelectorAll(".tt-head")].slice(1);
		const time = document.querySelector(".tt-row:not(:first-child) .tt-time");
		return {
			plenaryLeft: r(plenary).left, plenaryRight: r(plenary).right,
			firstTrackLeft: r(heads[0]).left, lastTrackRight: r(heads[heads.length - 1]).right,
			cells: cells.length, cellWidth: r(cells[0]).width,
			sticky: getComputedStyle(time).position === "sticky" ? 1 : 0,
			pageOverflow: document.documentElement.scrollWidth - window.innerWidth,
		};
	})()`)
	if d := geometry["plenaryLeft"] - geometry["firstTrackLeft"]; d < -1 || d > 1 {
		t.Errorf("the plenary starts at %.0f px, the first track at %.0f px", geometry["plenaryLeft"], geometry["firstTrackLeft"])
	}
	if d := geometry["plenaryRight"] - geometry["lastTrackRight"]; d < -1 || d > 1 {
		t.Errorf("the plenary ends at %.0f px, the last track at %.0f px: it does not span the tracks", geometry["plenaryRight"], geometry["lastTrackRight"])
	}
	if geometry["cells"] != 2 || geometry["plenaryRight"]-geometry["plenaryLeft"] < 1.9*geometry["cellWidth"] {
		t.Errorf("timetable geometry: %v (want two track cells, the plenary as wide as both)", geometry)
	}
	if geometry["sticky"] != 1 {
		t.Error("the timetable's time column is not sticky")
	}
	if geometry["pageOverflow"] > 0 {
		t.Errorf("the conference page scrolls sideways by %.0f px (the timetable should scroll in its own box)", geometry["pageOverflow"])
	}
	// Scroll the tracks sideways: the time column stays in view.
	before := eval[float64](t, ctx, `document.querySelector(".tt-row:not(:first-child) .tt-time").getBoundingClientRect().left`)
	step(t, ctx, "scroll the timetable", chromedp.Evaluate[chromedp.Void](`document.querySelector(".timetable-scroll").scrollLeft = 200`))
	after := eval[float64](t, ctx, `document.querySelector(".tt-row:not(:first-child) .tt-time").getBoundingClientRect().left`)
	scrolled := eval[float64](t, ctx, `document.querySelector(".timetable-scroll").scrollLeft`)
	if scrolled == 0 {
		// A time column and two tracks of at least 12rem each are wider than a phone.
		t.Error("the timetable does not scroll sideways on a phone: the sticky column is not exercised")
	} else if after != before {
		t.Errorf("after scrolling the tracks by %.0f px the time column moved from %.0f to %.0f px", scrolled, before, after)
	}
	saveScreenshot(t, ctx, dir, "phone-timetable-scrolled")
	in.stop()
}
