package store

import "strings"

// maxSearchWords bounds the words of one search: each is a pattern matched against every
// row, and a person looking for something types a few.
const maxSearchWords = 8

// searchWords splits a search term into the words every result must contain, escaped for
// LIKE (so "%", "_" and "\" match themselves). Folding (accents, case) happens in SQL, by
// puente_fold (migration 00016), on the words and the searched text alike.
func searchWords(q string) []string {
	words := strings.Fields(q)
	if len(words) > maxSearchWords {
		words = words[:maxSearchWords]
	}
	for i, w := range words {
		words[i] = escapeLike(w)
	}
	return words
}

// searchCondition is the SQL condition that haystack (an SQL text expression) contains
// every word of the text[] argument ?, accents and case aside.
func searchCondition(haystack string) string {
	return `puente_fold(` + haystack + `) LIKE ALL (SELECT '%' || puente_fold(w) || '%' FROM unnest(?::text[]) w)`
}

// tagCondition: the event has the topic ?, accents and case aside.
const tagCondition = `EXISTS (SELECT 1 FROM unnest(e.tags) t WHERE puente_fold(t) = puente_fold(?))`

// onlineOnly: the event has no venue, so it is attended online only.
const onlineOnly = `(e.venue_name = '' AND e.venue_address = '')`
