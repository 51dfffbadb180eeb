// Package markdown renders what organisers write (series descriptions, abstracts) as safe
// HTML: goldmark for CommonMark with GitHub extensions, then bluemonday's policy for
// user-generated content, so no script, event handler or javascript: link survives.
package markdown

import (
	"bytes"
	"html/template"
	"strings"
	"unicode"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/renderer/html"
)

// Render turns Markdown into sanitised HTML.
func Render(src string) template.HTML {
	if strings.TrimSpace(src) == "" {
		return ""
	}
	var buf bytes.Buffer
	// Raw HTML passes goldmark (researchers write Li<sub>2</sub>CO<sub>3</sub>) and is
	// then cleaned by the sanitiser, which is the one safety layer.
	md := goldmark.New(goldmark.WithExtensions(extension.GFM), goldmark.WithRendererOptions(html.WithUnsafe()))
	if err := md.Convert([]byte(src), &buf); err != nil {
		return template.HTML(template.HTMLEscapeString(src)) // goldmark does not fail on text input
	}
	policy := bluemonday.UGCPolicy()
	policy.RequireParseableURLs(true)
	policy.AddTargetBlankToFullyQualifiedLinks(false)
	policy.RequireNoFollowOnLinks(true)
	return template.HTML(policy.SanitizeBytes(buf.Bytes()))
}

// Plain is a plain-text excerpt of at most max characters, cut at a word boundary with
// "…", for lists and emails.
func Plain(src string, max int) string {
	if strings.TrimSpace(src) == "" {
		return ""
	}
	text := bluemonday.StrictPolicy().Sanitize(string(Render(src)))
	text = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&#39;", "'", "&#34;", "\"", "&quot;", "\"").Replace(text)
	text = strings.Join(strings.Fields(text), " ")
	r := []rune(text)
	if max <= 0 || len(r) <= max {
		return text
	}
	cut := max
	for cut > max/2 && !unicode.IsSpace(r[cut]) {
		cut--
	}
	return strings.TrimRightFunc(string(r[:cut]), func(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) }) + "…"
}
