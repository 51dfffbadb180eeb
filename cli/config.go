package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/puente-org/puente/recording/storage"
)

// config is every setting, from flags with environment variables as defaults.
type config struct {
	Addr        string
	BaseURL     string
	DataDir     string
	DatabaseURL string
	SMTPURL     string
	MailFrom    string
	LogLevel    string
	LogFormat   string
	PprofAddr   string
	TrustProxy  bool
	// MailRetention: sent emails keep their bodies (with personal links) this long.
	MailRetention time.Duration
	// MailLease: how long an email being sent is reserved for the process sending it.
	MailLease time.Duration
	// LiveGrace: a participant whose connection dropped stays in the room this long.
	LiveGrace time.Duration
	// Recordings: how many compositions run at once (across all processes), with which ffmpeg.
	ComposeWorkers int
	FFmpeg         string

	// Who may read /metrics besides direct loopback connections.
	MetricsAllow []netip.Prefix
	MetricsToken string
	// DevMailbox lets this machine read /dev/mail without signing in.
	DevMailbox bool

	// Live media (network.go).
	RTCUDPPort, RTCTCPPort                int
	RTCPublicIPs                          []string
	RTCLoopbackOnly                       bool
	RTCBatchWrites                        bool
	RTCAdapt                              bool
	TURNUDPPort, TURNTCPPort, TURNTLSPort int
	TURNCert, TURNKey, TURNPublicIP       string

	// Composed recordings (recordings.go): a directory ("" is <data dir>/recordings), or
	// an S3-compatible store when RecordingsS3 is set.
	RecordingsDir string
	RecordingsS3  *storage.S3Config
}

// setting describes one setting for flags, -h and docs/configuration.md.
type setting struct {
	flag, env, def, help string
	serveOnly            bool
}

func settings() []setting {
	return []setting{
		{"addr", "PUENTE_ADDR", "127.0.0.1:8080", "address the web server listens on (host:port)", true},
		{"base-url", "PUENTE_BASE_URL", "", "public URL used in links, e.g. https://puente.example.org (default http://<addr>)", true},
		{"data-dir", "PUENTE_DATA_DIR", defaultDataDir(), "where local state lives, including the private database", false},
		{"database-url", "DATABASE_URL", "", "PostgreSQL URL; empty runs a private server under the data dir", false},
		{"smtp-url", "SMTP_URL", "", "SMTP server for email, e.g. smtp://user:pass@mail.example.org:587; empty keeps mail in the local mailbox (/dev/mail)", true},
		{"mail-from", "PUENTE_MAIL_FROM", "", "sender address of emails, e.g. \"Puente <no-reply@example.org>\" (default no-reply@<base URL host>)", true},
		{"mail-retention", "PUENTE_MAIL_RETENTION", "720h", "how long sent emails keep their bodies (personal join and cancel links) in the outbox before they are blanked, e.g. 720h (30 days); 0 never blanks them", true},
		{"mail-lease", "PUENTE_MAIL_LEASE", "5m", "how long an email being sent is reserved for the process sending it; after a crash, the emails it was sending wait this long before another start sends them (10s to 1h)", true},
		{"live-grace", "PUENTE_LIVE_GRACE", "30s", "how long someone whose connection dropped stays in a live room, reconnecting, before the others see them leave (e.g. 30s; 5s to 10m)", true},
		{"compose-workers", "PUENTE_COMPOSE_WORKERS", "1", "how many recordings are composed at once (ffmpeg), across all instances sharing the database; 1 to 8", true},
		{"ffmpeg", "PUENTE_FFMPEG", "/usr/bin/ffmpeg", "the ffmpeg program that composes recordings (ffprobe is taken from the same directory)", true},
		{"trust-proxy", "PUENTE_TRUST_PROXY", "false", "take client addresses from X-Forwarded-For (only behind a reverse proxy)", true},
		{"rtc-udp-port", "PUENTE_RTC_UDP_PORT", "7881", "UDP port all live media uses (WebRTC); open it in the firewall", true},
		{"rtc-tcp-port", "PUENTE_RTC_TCP_PORT", "7882", "TCP port for live media from networks that block UDP (ICE-TCP); -1 turns it off", true},
		{"rtc-public-ip", "PUENTE_RTC_PUBLIC_IP", "", "public IP address(es) to announce for live media when behind NAT or in docker, comma separated (e.g. 203.0.113.7)", true},
		{"turn-udp-port", "PUENTE_TURN_UDP_PORT", "0", "UDP port of the built-in TURN server, usually 3478; 0 is off", true},
		{"turn-tcp-port", "PUENTE_TURN_TCP_PORT", "0", "TCP port of the built-in TURN server, usually 3478; 0 is off", true},
		{"turn-tls-port", "PUENTE_TURN_TLS_PORT", "0", "TLS port of the built-in TURN server (TURNS), 443 or 5349; needs --turn-cert and --turn-key; 0 is off", true},
		{"turn-cert", "PUENTE_TURN_CERT", "", "certificate file (PEM chain) for TURN over TLS, valid for the base URL host", true},
		{"turn-key", "PUENTE_TURN_KEY", "", "private key file (PEM) of --turn-cert", true},
		{"pprof-addr", "PUENTE_PPROF_ADDR", "", "address for Go's profiler (net/http/pprof), e.g. 127.0.0.1:6060; empty is off; keep it on loopback", true},
		{"rtc-batch-writes", "PUENTE_RTC_BATCH_WRITES", "false", "send the viewers' copies of each media packet in one system call (sendmmsg) instead of one each", true},
		{"rtc-adapt-to-bandwidth", "PUENTE_RTC_ADAPT_TO_BANDWIDTH", "true", "estimate each viewer's bandwidth (congestion control feedback, probes) and send lower simulcast layers, or audio only, on weak links; false sends every viewer what its display size asks for (docs/benchmarks.md)", true},
		{"rtc-loopback-only", "PUENTE_RTC_LOOPBACK_ONLY", "false", "live media only over 127.0.0.1, for browser tests and demos on one machine; never in production", true},
		{"turn-public-ip", "PUENTE_TURN_PUBLIC_IP", "", "IP address clients reach the TURN server at (default: the first of --rtc-public-ip)", true},
		{"metrics-allow", "PUENTE_METRICS_ALLOW", "", "client addresses or networks that may read /metrics besides this machine, comma separated (e.g. 10.0.0.5,192.168.1.0/24); behind a proxy needs --trust-proxy", true},
		{"metrics-token", "PUENTE_METRICS_TOKEN", "", "bearer token that opens /metrics from anywhere (Authorization: Bearer <token>); empty is none", true},
		{"dev-mailbox", "PUENTE_DEV_MAILBOX", "", "let this machine read the local mailbox (/dev/mail, sign-in links) without signing in; default true when the base URL is on loopback (127.0.0.1, localhost), refused otherwise; site admins can always read it", true},
		{"recordings-dir", "PUENTE_RECORDINGS_DIR", "", "where composed recordings are kept on disk (default <data dir>/recordings)", true},
		{"recordings-s3-url", "PUENTE_RECORDINGS_S3_URL", "", "keep composed recordings in an S3-compatible store instead: https://ACCESS_KEY:SECRET_KEY@host[:port]/bucket?region=REGION (http:// without TLS); never logged", true},
		{"log-level", "PUENTE_LOG_LEVEL", "info", "debug, info, warn or error", false},
		{"log-format", "PUENTE_LOG_FORMAT", "text", "text or json", false},
	}
}

// defaultDataDir: ~/.local/share/puente (XDG) for a person; /var/lib/puente for root, where
// the database's own unprivileged user can reach it (it cannot enter /root).
func defaultDataDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/puente"
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "puente")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "puente")
	}
	return ".puente"
}

// parseConfig reads flags for command name (serve=true also takes the web settings).
// Environment variables set the defaults; flags win.
func parseConfig(name string, args []string, serve bool, extra func(*flag.FlagSet), stderr io.Writer) (config, *flag.FlagSet, error) {
	var cfg config
	fs := flag.NewFlagSet("puente "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	targets := map[string]*string{
		"addr": &cfg.Addr, "base-url": &cfg.BaseURL, "data-dir": &cfg.DataDir, "database-url": &cfg.DatabaseURL,
		"smtp-url": &cfg.SMTPURL, "mail-from": &cfg.MailFrom, "log-level": &cfg.LogLevel, "log-format": &cfg.LogFormat, "pprof-addr": &cfg.PprofAddr,
	}
	var trustProxy, metricsAllow, devMailbox, retention, grace, lease, workers string
	targets["compose-workers"], targets["ffmpeg"] = &workers, &cfg.FFmpeg
	targets["mail-lease"] = &lease
	targets["trust-proxy"] = &trustProxy
	targets["live-grace"] = &grace
	targets["metrics-allow"], targets["metrics-token"], targets["dev-mailbox"] = &metricsAllow, &cfg.MetricsToken, &devMailbox
	targets["mail-retention"] = &retention
	var media mediaFlags
	media.targets(targets)
	var recordings recordingFlags
	recordings.targets(targets)
	for _, s := range settings() {
		if s.serveOnly && !serve {
			continue
		}
		def := s.def
		if v, ok := os.LookupEnv(s.env); ok {
			def = v
		}
		fs.StringVar(targets[s.flag], s.flag, def, fmt.Sprintf("%s (env %s)", s.help, s.env))
	}
	if extra != nil {
		extra(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage of puente %s:\n", name)
		fs.SetOutput(stderr)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.Usage()
			return cfg, fs, err
		}
		return cfg, fs, usageError{fmt.Sprintf("%s: %v (run 'puente %s -h' for the list)", name, err, name)}
	}
	if trustProxy == "" {
		trustProxy = "false"
	}
	var err error
	if cfg.TrustProxy, err = strconv.ParseBool(trustProxy); err != nil {
		return cfg, fs, usageError{"PUENTE_TRUST_PROXY / --trust-proxy must be true or false"}
	}
	if serve {
		if retention == "" {
			retention = "720h"
		}
		if cfg.MailRetention, err = time.ParseDuration(retention); err != nil || cfg.MailRetention < 0 {
			return cfg, fs, usageError{"PUENTE_MAIL_RETENTION / --mail-retention must be a duration such as 720h (30 days), or 0"}
		}
		if lease == "" {
			lease = "5m"
		}
		if cfg.MailLease, err = time.ParseDuration(lease); err != nil || cfg.MailLease < 10*time.Second || cfg.MailLease > time.Hour {
			return cfg, fs, usageError{"PUENTE_MAIL_LEASE / --mail-lease must be a duration from 10s to 1h, such as 5m"}
		}
		if grace == "" {
			grace = "30s"
		}
		if cfg.LiveGrace, err = time.ParseDuration(grace); err != nil || cfg.LiveGrace < 5*time.Second || cfg.LiveGrace > 10*time.Minute {
			return cfg, fs, usageError{"PUENTE_LIVE_GRACE / --live-grace must be a duration from 5s to 10m, such as 30s"}
		}
		if workers == "" {
			workers = "1"
		}
		if cfg.ComposeWorkers, err = strconv.Atoi(strings.TrimSpace(workers)); err != nil || cfg.ComposeWorkers < 1 || cfg.ComposeWorkers > 8 {
			return cfg, fs, usageError{"PUENTE_COMPOSE_WORKERS / --compose-workers must be a number from 1 to 8"}
		}
		if cfg.FFmpeg = strings.TrimSpace(cfg.FFmpeg); cfg.FFmpeg == "" {
			cfg.FFmpeg = "/usr/bin/ffmpeg"
		}
		if err := media.parse(&cfg); err != nil {
			return cfg, fs, err
		}
		if err := recordings.parse(&cfg); err != nil {
			return cfg, fs, err
		}
		if cfg.MetricsAllow, err = parseNetworks(metricsAllow); err != nil {
			return cfg, fs, err
		}
		cfg.MetricsToken = strings.TrimSpace(cfg.MetricsToken)
	}
	if err := cfg.validate(serve); err != nil || !serve {
		return cfg, fs, err
	}
	return cfg, fs, cfg.devMailbox(devMailbox)
}

// parseNetworks reads --metrics-allow: addresses (one host) and networks in CIDR form.
func parseNetworks(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, usageError{fmt.Sprintf("PUENTE_METRICS_ALLOW / --metrics-allow: %q is not an IP address or a network such as 192.168.1.0/24", s)}
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// devMailbox decides the development mailbox setting once the base URL is known: on by
// default for a base URL on this machine, off otherwise, and never on for a public one
// (behind a proxy every request comes from loopback, so the mailbox would be public).
func (c *config) devMailbox(text string) error {
	local := loopbackURL(c.BaseURL)
	text = strings.TrimSpace(text)
	if text == "" {
		c.DevMailbox = local
		return nil
	}
	on, err := strconv.ParseBool(text)
	if err != nil {
		return usageError{fmt.Sprintf("PUENTE_DEV_MAILBOX / --dev-mailbox %q must be true or false", text)}
	}
	if on && !local {
		return usageError{fmt.Sprintf("PUENTE_DEV_MAILBOX / --dev-mailbox is a development setting for a base URL on this machine; "+
			"PUENTE_BASE_URL is %s. Remove it (site admins can still read /dev/mail), or set SMTP_URL to send real email", c.BaseURL)}
	}
	c.DevMailbox = on
	return nil
}

// loopbackURL reports whether u's host is this machine (localhost or a loopback address).
func loopbackURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	h := strings.ToLower(p.Hostname())
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.Unmap().IsLoopback()
}

func (c *config) validate(serve bool) error {
	if c.DataDir == "" {
		return usageError{"PUENTE_DATA_DIR / --data-dir must not be empty"}
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return usageError{fmt.Sprintf("PUENTE_DATA_DIR / --data-dir: %v", err)}
	}
	c.DataDir = abs
	if _, err := logLevel(c.LogLevel); err != nil {
		return err
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return usageError{"PUENTE_LOG_FORMAT / --log-format must be text or json"}
	}
	if !serve {
		return nil
	}
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return usageError{fmt.Sprintf("PUENTE_ADDR / --addr %q must be host:port, e.g. 127.0.0.1:8080", c.Addr)}
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return usageError{fmt.Sprintf("PUENTE_ADDR / --addr %q: the port must be a number from 0 to 65535", c.Addr)}
	}
	if c.BaseURL == "" {
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		c.BaseURL = "http://" + net.JoinHostPort(host, port)
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return usageError{fmt.Sprintf("PUENTE_BASE_URL / --base-url %q must be an http(s) URL such as https://puente.example.org", c.BaseURL)}
	}
	if c.MailFrom == "" {
		h := u.Hostname()
		if net.ParseIP(h) != nil || !strings.Contains(h, ".") {
			h = "localhost"
		}
		c.MailFrom = "Puente <no-reply@" + h + ">"
	}
	if _, err := mail.ParseAddress(c.MailFrom); err != nil {
		return usageError{fmt.Sprintf("PUENTE_MAIL_FROM / --mail-from %q is not an email address", c.MailFrom)}
	}
	return nil
}

func logLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, usageError{"PUENTE_LOG_LEVEL / --log-level must be debug, info, warn or error"}
	}
	return l, nil
}

func newLogger(cfg config, w io.Writer) *slog.Logger {
	level, _ := logLevel(cfg.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
