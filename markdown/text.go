package markdown

import (
	"bytes"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Text is the plain-text version of what organisers write, for the text part of an email:
// the sanitised HTML of Render read back as text, so nothing the sanitiser removes (a
// script, an event handler) appears in it either. Paragraphs, headings and list items keep
// their lines, items start with "- ", and a link shows its address after its text.
func Text(src string) string {
	safe := Render(src)
	if safe == "" {
		return ""
	}
	nodes, err := html.ParseFragment(strings.NewReader(string(safe)), &html.Node{Type: html.ElementNode, DataAtom: atom.Body, Data: "body"})
	if err != nil { // the sanitiser's output always parses; fall back to the words alone
		return Plain(src, 0)
	}
	var b bytes.Buffer
	for _, n := range nodes {
		writeText(&b, n, false)
	}
	var lines []string
	blank := false
	for _, line := range strings.Split(b.String(), "\n") {
		line = strings.Join(strings.Fields(line), " ")
		if line == "" {
			blank = len(lines) > 0
			continue
		}
		if blank {
			lines = append(lines, "")
			blank = false
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// writeText writes n's text: blocks on lines of their own, separated by a blank line.
func writeText(b *bytes.Buffer, n *html.Node, pre bool) {
	switch n.Type {
	case html.TextNode:
		if pre {
			b.WriteString(n.Data) // code keeps its lines
		} else {
			b.WriteString(strings.ReplaceAll(n.Data, "\n", " ")) // HTML's line breaks are spaces
		}
		return
	case html.ElementNode:
	default:
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			writeText(b, c, pre)
		}
		return
	}
	switch n.DataAtom {
	case atom.Br:
		b.WriteString("\n")
		return
	case atom.Li:
		b.WriteString("\n- ")
	case atom.P, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Blockquote, atom.Pre, atom.Ul, atom.Ol,
		atom.Table, atom.Hr, atom.Div:
		b.WriteString("\n\n")
	case atom.Tr:
		b.WriteString("\n")
	case atom.Td, atom.Th:
		b.WriteString(" ")
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		writeText(b, c, pre || n.DataAtom == atom.Pre)
	}
	if n.DataAtom == atom.A {
		href := ""
		for _, a := range n.Attr {
			if a.Key == "href" {
				href = a.Val
			}
		}
		var text bytes.Buffer
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			writeText(&text, c, pre)
		}
		if href != "" && strings.TrimSpace(text.String()) != href && !strings.HasPrefix(href, "mailto:") {
			b.WriteString(" (" + href + ")")
		}
	}
	switch n.DataAtom {
	case atom.P, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Blockquote, atom.Pre, atom.Ul, atom.Ol, atom.Table, atom.Div:
		b.WriteString("\n\n")
	}
}
