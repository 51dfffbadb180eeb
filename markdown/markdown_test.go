package markdown

import (
	"strings"
	"testing"
)

func TestRenderIsSafe(t *testing.T) {
	for _, tc := range []struct{ in, want, notWant string }{
		{"# Title\n\n- one\n- two", "<li>one</li>", ""},
		{"[site](https://example.org)", `href="https://example.org"`, ""},
		{"[site](https://example.org)", `rel="nofollow"`, ""},
		{"<script>alert(1)</script>hi", "hi", "<script"},
		{`<img src=x onerror="alert(1)">`, "", "onerror"},
		{"[x](javascript:alert(1))", "", "javascript:"},
		{`<iframe src="https://evil.example"></iframe>`, "", "<iframe"},
		{"| a | b |\n|---|---|\n| 1 | 2 |", "<table>", ""},
		{"**bold** ~~gone~~", "<strong>bold</strong>", ""},
		{"Li<sub>2</sub>CO<sub>3</sub>", "Li<sub>2</sub>CO<sub>3</sub>", ""},
		{`<a href="https://x.org" onclick="steal()">x</a>`, `href="https://x.org"`, "onclick"},
	} {
		got := string(Render(tc.in))
		if tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("Render(%q) = %q, want it to contain %q", tc.in, got, tc.want)
		}
		if tc.notWant != "" && strings.Contains(got, tc.notWant) {
			t.Errorf("Render(%q) = %q, must not contain %q", tc.in, got, tc.notWant)
		}
	}
	if Render("  ") != "" {
		t.Error("blank input should render nothing")
	}
}

func TestPlain(t *testing.T) {
	if got := Plain("**Lithium** & [brines](https://x.org)\n\n<script>x</script>", 100); got != "Lithium & brines" {
		t.Errorf("Plain = %q", got)
	}
	got := Plain("Direct lithium extraction from Andean salars at scale", 30)
	if !strings.HasSuffix(got, "…") || len([]rune(got)) > 31 || strings.Contains(got, "sala…") {
		t.Errorf("cut = %q", got)
	}
}
