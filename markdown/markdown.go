// Package markdown renders what organisers write (series descriptions, abstracts) as safe
// HTML: goldmark for CommonMark with GitHub extensions (tables, strikethrough, autolinks,
// task lists), then bluemonday's policy for user-generated content, so no script, event
// handler, javascript: link or iframe survives. It also makes plain-text excerpts. It does no
// I/O and keeps no mutable state.
package markdown

import (
	"bytes"
	"html"
	"html/template"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	gmhtml "github.com/yuin/goldmark/renderer/html"
)

// MaxSource is the longest source Render and Plain read (in bytes); the rest is ignored.
const MaxSource = 200_000

// toHTML converts Markdown to unsanitised HTML. Raw HTML passes goldmark (researchers write
// Li<sub>2</sub>CO<sub>3</sub>) and is then cleaned by the sanitiser, which is the one safety
// layer: never show this output without it.
func toHTML(src string) []byte {
	if len(src) > MaxSource {
		src = src[:MaxSource]
		for len(src) > 0 && !utf8.ValidString(src) { // do not cut a character in two
			src = src[:len(src)-1]
		}
	}
	var buf bytes.Buffer
	if err := converter().Convert([]byte(src), &buf); err != nil {
		// goldmark's renderer fails only when its writer does, and a bytes.Buffer does not.
		return []byte(template.HTMLEscapeString(src))
	}
	return buf.Bytes()
}

// The converter and the policies are built once, on first use, and only read after that
// (both libraries document them as safe for concurrent use): building a policy costs about
// 0.6 ms, which made feeds with many descriptions slow.
var (
	converter = sync.OnceValue(func() goldmark.Markdown {
		return goldmark.New(goldmark.WithExtensions(extension.GFM), goldmark.WithRendererOptions(gmhtml.WithUnsafe()))
	})
	ugcPolicy    = sync.OnceValue(ugc)
	strictPolicy = sync.OnceValue(bluemonday.StrictPolicy)
)

// ugc is bluemonday's policy for user-generated content: a safe subset of HTML, URLs that
// parse and use a safe scheme (http, https, mailto or relative), rel="nofollow" on links; no
// scripts, styles, event handlers, forms, iframes or target attributes.
func ugc() *bluemonday.Policy {
	p := bluemonday.UGCPolicy()
	p.RequireParseableURLs(true)
	p.RequireNoFollowOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(false)
	return p
}

// Render turns a series or talk description (Markdown) into safe HTML.
func Render(src string) template.HTML {
	if strings.TrimSpace(src) == "" {
		return ""
	}
	return template.HTML(ugcPolicy().SanitizeBytes(toHTML(src))) // #nosec G203 -- sanitised by the UGC policy
}

// Plain is a plain-text excerpt of a description, for lists and emails: the words without any
// markup (links keep their text; images, scripts and other raw HTML go), whitespace collapsed,
// and, when longer than max characters (max > 0), cut at a word boundary and ended with "…",
// at most max characters in all.
func Plain(src string, max int) string {
	if strings.TrimSpace(src) == "" {
		return ""
	}
	// The UGC policy drops scripts with their content and writes tags in one form; a space
	// after each line break and block keeps words apart ("one<br>two", "<div>a</div><div>b</div>")
	// once the strict policy has removed every tag.
	safe := string(ugcPolicy().SanitizeBytes(toHTML(src)))
	var apart []string
	for _, tag := range []string{"br", "hr", "p", "div", "li", "td", "th", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
		"blockquote", "pre", "dt", "dd", "figcaption", "section", "article", "aside", "summary", "details"} {
		apart = append(apart, "<"+tag, " <"+tag, "</"+tag+">", "</"+tag+"> ")
	}
	safe = strings.NewReplacer(apart...).Replace(safe)
	text := html.UnescapeString(strictPolicy().Sanitize(safe))
	return cut(strings.Join(strings.Fields(text), " "), max)
}

// cut shortens s to at most max runes, at a word boundary, ending in "…".
func cut(s string, max int) string {
	if max <= 0 || utf8.RuneCountInString(s) <= max {
		return s
	}
	if max == 1 {
		return "…"
	}
	r := []rune(s)
	head := r[:max-1]
	if !unicode.IsSpace(r[max-1]) { // the cut falls inside a word: drop that word
		for i := len(head) - 1; i > 0; i-- {
			if unicode.IsSpace(head[i]) {
				head = head[:i]
				break
			}
		}
	}
	out := strings.TrimRightFunc(string(head), func(c rune) bool {
		return unicode.IsSpace(c) || strings.ContainsRune(",;:-–—([{", c)
	})
	if out == "" { // one long word: cut inside it
		out = string(r[:max-1])
	}
	return out + "…"
}
