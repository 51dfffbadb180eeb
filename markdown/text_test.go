package markdown

import (
	"strings"
	"testing"
)

func TestTextKeepsLinesAndLinksAndDropsScripts(t *testing.T) {
	src := "# Call for talks\n\nDeadline **1 March**.\n\n- one\n- two\n\nSee [the page](https://example.org/cfp).\n\n" +
		"<script>alert('x')</script><img src=x onerror=\"alert(1)\">Done."
	got := Text(src)
	want := "Call for talks\n\nDeadline 1 March.\n\n- one\n- two\n\nSee the page (https://example.org/cfp).\n\nDone."
	if got != want {
		t.Fatalf("Text:\n%q\nwant\n%q", got, want)
	}
	for _, bad := range []string{"script", "alert", "onerror"} {
		if strings.Contains(got, bad) {
			t.Fatalf("%q survived: %q", bad, got)
		}
	}
	if Text("   ") != "" {
		t.Fatal("blank source should give no text")
	}
}
