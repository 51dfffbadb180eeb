package pgtest

import (
	"errors"
	"net/url"
	"strings"
)

// withDatabase points a connection string, URL or keyword/value, at another database.
func withDatabase(base, name string) (string, error) {
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		u, err := url.Parse(base)
		if err != nil {
			// url's error quotes the URL, password included: keep it out of test logs.
			return "", errors.New("the test database URL does not parse")
		}
		u.Path, u.RawPath = "/"+name, ""
		if q := u.Query(); q.Has("dbname") { // would override the path
			q.Del("dbname")
			u.RawQuery = q.Encode()
		}
		return u.String(), nil
	}
	// Keyword/value: a later setting overrides an earlier one (libpq and pgx alike).
	return base + " dbname=" + name, nil
}
