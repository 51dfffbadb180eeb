package markdown

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRender(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string // all must appear
		notWant []string // none may appear (case-insensitive)
	}{
		{"heading", "# Lithium brines\n\n## Abstract", []string{"<h1>Lithium brines</h1>", "<h2>Abstract</h2>"}, nil},
		{"lists", "1. one\n2. two\n\n- a\n- b", []string{"<ol>", "<li>one</li>", "<ul>", "<li>b</li>"}, nil},
		{"link gets nofollow", "[the group](https://example.org/group?a=1&b=2)",
			[]string{`<a href="https://example.org/group?a=1&amp;b=2" rel="nofollow">the group</a>`}, []string{"target="}},
		{"autolink", "See https://example.org/talk for slides", []string{`<a href="https://example.org/talk" rel="nofollow">https://example.org/talk</a>`}, nil},
		{"mailto", "<mailto:seminar@example.org>", []string{`href="mailto:seminar@example.org"`}, nil},
		{"emphasis and strikethrough", "*em* **strong** ~~old~~", []string{"<em>em</em>", "<strong>strong</strong>", "<del>old</del>"}, nil},
		{"table", "| when | who |\n|---|---|\n| 15:00 | Ana |", []string{"<table>", "<th>when</th>", "<td>Ana</td>"}, nil},
		{"code", "`x < y`\n\n```\n<b>not bold</b>\n```", []string{"<code>x &lt; y</code>", "&lt;b&gt;not bold&lt;/b&gt;"}, []string{"<b>"}},
		{"chemistry", "Li<sub>2</sub>CO<sub>3</sub> and m<sup>2</sup>", []string{"Li<sub>2</sub>CO<sub>3</sub>", "m<sup>2</sup>"}, nil},
		{"script block", "<script>alert(1)</script>\n\nafter", []string{"<p>after</p>"}, []string{"<script", "alert(1)"}},
		{"inline script", "before <script>alert(1)</script> after", []string{"before", "after"}, []string{"<script", "alert"}},
		{"onerror", `<img src="x" onerror="alert(1)">`, nil, []string{"onerror", "alert"}},
		{"onclick on a link", `<a href="https://x.org" onclick="steal()">x</a>`, []string{`href="https://x.org"`}, []string{"onclick", "steal"}},
		{"javascript link", "[click](javascript:alert(1))", []string{"click"}, []string{"javascript:"}},
		{"javascript link, raw", `<a href="javascript:alert(1)">click</a>`, []string{"click"}, []string{"javascript:"}},
		{"javascript link, entity-encoded", `<a href="jav&#x61;script:alert(1)">click</a>`, []string{"click"}, []string{"script:", "href"}},
		{"data link", "[x](data:text/html;base64,PHNjcmlwdD4=)", nil, []string{"data:"}},
		{"iframe", `<iframe src="https://evil.example"></iframe>`, nil, []string{"<iframe", "evil.example"}},
		{"style", "<style>body{display:none}</style>text", []string{"text"}, []string{"<style", "display"}},
		{"style attribute", `<p style="position:fixed">x</p>`, []string{"x"}, []string{"style="}},
		{"form", `<form action="https://evil.example"><input name="pw"></form>`, nil, []string{"<form", "<input name"}},
		{"blank", "   \n\t ", nil, []string{"<"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(Render(tt.in))
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("Render(%q) = %q, want it to contain %q", tt.in, got, w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(strings.ToLower(got), strings.ToLower(w)) {
					t.Errorf("Render(%q) = %q, must not contain %q", tt.in, got, w)
				}
			}
		})
	}
}

func TestPlainText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"markup goes", "# Title\n\nSome **bold** and _em_ text with [a link](https://x.org).", 0, "Title Some bold and em text with a link."},
		{"lists and tables keep words apart", "- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |", 0, "one two a b 1 2"},
		{"entities", "Fish &amp; chips, 5 &lt; 6, \"quoted\" and it's", 0, "Fish & chips, 5 < 6, \"quoted\" and it's"},
		{"scripts and images go", "Hello <script>alert(1)</script>world ![diagram](https://x.org/d.png)", 0, "Hello world"},
		{"chemistry", "Li<sub>2</sub>CO<sub>3</sub> brines", 0, "Li2CO3 brines"},
		{"line break", "one  \ntwo<br>three", 0, "one two three"},
		{"autolink", "Slides: https://example.org/s", 0, "Slides: https://example.org/s"},
		{"short enough", "Direct lithium extraction", 25, "Direct lithium extraction"},
		{"cut at a word", "Direct lithium extraction from Andean salars at scale", 30, "Direct lithium extraction…"},
		{"cut exactly before a space", "Direct lithium extraction from Andean salars", 26, "Direct lithium extraction…"},
		{"cut drops trailing punctuation", "Lithium, sodium, potassium and more", 17, "Lithium, sodium…"},
		{"one long word", "Pneumonoultramicroscopicsilicovolcanoconiosis", 10, "Pneumonou…"},
		{"accents count as one", "Extracción de litio en salares andinos", 22, "Extracción de litio…"},
		{"max 1", "anything", 1, "…"},
		{"blank", "  ", 10, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Plain(tt.in, tt.max)
			if got != tt.want {
				t.Errorf("Plain(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
			}
			if tt.max > 0 && utf8.RuneCountInString(got) > tt.max {
				t.Errorf("Plain(%q, %d) = %q is longer than %d", tt.in, tt.max, got, tt.max)
			}
		})
	}
}

func TestHugeInput(t *testing.T) {
	src := strings.Repeat("ñ", MaxSource) // two bytes each: cut in the middle of the source
	if got := Plain(src, 0); !utf8.ValidString(got) || utf8.RuneCountInString(got) != MaxSource/2 {
		t.Errorf("huge input: %d runes, valid %v", utf8.RuneCountInString(got), utf8.ValidString(got))
	}
}

func TestPlainBlocksStayApart(t *testing.T) {
	if got := Plain("<div>alpha</div><div>beta</div><BR>gamma<p>delta</p>", 0); got != "alpha beta gamma delta" {
		t.Errorf("got %q", got)
	}
}
