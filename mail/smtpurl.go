package mail

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// startTLSMode says whether and how a plain smtp:// connection is upgraded.
type startTLSMode int

const (
	startTLSOpportunistic startTLSMode = iota
	startTLSRequired
	startTLSNone
)

// smtpConfig is the validated content of SMTP_URL.
type smtpConfig struct {
	host        string
	port        int
	implicitTLS bool // smtps://
	startTLS    startTLSMode
	insecure    bool // skip certificate verification
	helo        string
	user        string
	password    string
	hasAuth     bool
	redacted    string // the URL with the password masked, for logs and errors
}

const (
	defaultSubmissionPort = 587 // RFC 6409 message submission
	defaultSMTPSPort      = 465 // RFC 8314 implicit TLS submission
)

// smtpURLError builds errors about SMTP_URL. Callers pass only redacted
// material; the password never reaches this function.
func smtpURLError(format string, args ...any) error {
	return fmt.Errorf("SMTP_URL: "+format, args...)
}

// parseSMTPURL validates rawURL as described in the package documentation.
//
// The user info is split off by hand before url.Parse sees the rest: url.Parse
// quotes its whole input in errors, and a password with an unescaped "/", "?"
// or "#" would otherwise be taken for part of the host, port or path and end
// up in a diagnostic. Taking everything up to the last "@" as user info keeps
// every error message free of secret material and, as a bonus, accepts such
// passwords.
func parseSMTPURL(rawURL string) (smtpConfig, error) {
	var cfg smtpConfig
	if strings.TrimSpace(rawURL) == "" {
		return cfg, smtpURLError("is empty; expected smtp://[user[:password]@]host[:port] or smtps://...")
	}
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return cfg, smtpURLError("must start with smtp:// or smtps://")
	}
	switch strings.ToLower(scheme) {
	case "smtp":
	case "smtps":
		cfg.implicitTLS = true
	default:
		if !isSchemeSyntax(scheme) {
			return cfg, smtpURLError("must start with smtp:// or smtps://")
		}
		return cfg, smtpURLError("unknown scheme %q; expected smtp or smtps", scheme)
	}
	scheme = strings.ToLower(scheme)

	userinfo, hostPart := "", rest
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		userinfo, hostPart = rest[:at], rest[at+1:]
		cfg.hasAuth = true
	}
	cfg.redacted = scheme + "://" + redactUserinfo(userinfo, cfg.hasAuth) + hostPart

	u, err := url.Parse(scheme + "://" + hostPart)
	if err != nil {
		// Safe to show: the input to url.Parse holds no user info.
		return cfg, smtpURLError("not a valid URL: %v", err)
	}
	cfg.host = u.Hostname()
	if cfg.host == "" {
		return cfg, smtpURLError("missing host in %q", cfg.redacted)
	}
	if cfg.port, err = parsePort(u); err != nil {
		return cfg, smtpURLError("%v in %q", err, cfg.redacted)
	}
	if u.Path != "" && u.Path != "/" {
		return cfg, smtpURLError("unexpected path %q in %q", u.Path, cfg.redacted)
	}
	if u.Fragment != "" {
		return cfg, smtpURLError("unexpected fragment in %q", cfg.redacted)
	}
	if cfg.hasAuth {
		if err := parseUserinfo(userinfo, &cfg); err != nil {
			return cfg, smtpURLError("%v in %q", err, cfg.redacted)
		}
	}
	if err := parseSMTPQuery(u, &cfg); err != nil {
		return cfg, smtpURLError("%v in %q", err, cfg.redacted)
	}
	return cfg, nil
}

// parseUserinfo decodes "user[:password]". Its errors never quote the input.
func parseUserinfo(userinfo string, cfg *smtpConfig) error {
	name, pass, _ := strings.Cut(userinfo, ":")
	user, err := url.PathUnescape(name)
	if err != nil {
		return errors.New("user name is not valid percent-encoding")
	}
	if user == "" {
		return errors.New("empty user name")
	}
	password, err := url.PathUnescape(pass)
	if err != nil {
		return errors.New("password is not valid percent-encoding (write % as %25)")
	}
	cfg.user, cfg.password = user, password
	return nil
}

// redactUserinfo renders the user info for messages: the user name as written
// (it is not a secret and helps spot typos) and the password masked.
func redactUserinfo(userinfo string, present bool) string {
	if !present {
		return ""
	}
	name, _, hasPass := strings.Cut(userinfo, ":")
	if hasPass {
		return name + ":xxxxx@"
	}
	return name + "@"
}

// isSchemeSyntax reports whether s looks like a URL scheme (RFC 3986 3.1), so
// that quoting it in an error cannot echo arbitrary input such as a password.
func isSchemeSyntax(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && (r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.'):
		default:
			return false
		}
	}
	return true
}

func parsePort(u *url.URL) (int, error) {
	p := u.Port()
	if p == "" {
		if u.Scheme == "smtps" {
			return defaultSMTPSPort, nil
		}
		return defaultSubmissionPort, nil
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %q is not a number between 1 and 65535", p)
	}
	return n, nil
}

func parseSMTPQuery(u *url.URL, cfg *smtpConfig) error {
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return fmt.Errorf("malformed query: %w", err)
	}
	for key, vals := range q {
		if len(vals) != 1 {
			return fmt.Errorf("parameter %q given %d times", key, len(vals))
		}
		val := vals[0]
		switch key {
		case "starttls":
			if cfg.implicitTLS {
				return errors.New("starttls does not apply to smtps:// (already TLS); use smtp:// for STARTTLS")
			}
			switch strings.ToLower(val) {
			case "opportunistic":
				cfg.startTLS = startTLSOpportunistic
			case "required":
				cfg.startTLS = startTLSRequired
			case "none":
				cfg.startTLS = startTLSNone
			default:
				return fmt.Errorf("starttls=%q; expected required, opportunistic or none", val)
			}
		case "insecure_skip_verify":
			b, err := strconv.ParseBool(val)
			if err != nil {
				return fmt.Errorf("insecure_skip_verify=%q; expected true or false", val)
			}
			cfg.insecure = b
		case "helo":
			if val == "" || strings.ContainsAny(val, " \t\r\n") {
				return fmt.Errorf("helo=%q; expected a host name without spaces", val)
			}
			cfg.helo = val
		default:
			return fmt.Errorf("unknown parameter %q; known: starttls, insecure_skip_verify, helo", key)
		}
	}
	return nil
}
