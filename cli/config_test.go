package cli

import (
	"net/netip"
	"os"
	"strings"
	"testing"
)

func TestMetricsSettings(t *testing.T) {
	cfg, err := serveConfig(t, map[string]string{"PUENTE_METRICS_ALLOW": "10.0.0.5, 192.168.1.7/24,::ffff:10.0.0.6", "PUENTE_METRICS_TOKEN": " tok "})
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.5/32"), netip.MustParsePrefix("192.168.1.0/24"), netip.MustParsePrefix("10.0.0.6/32")}
	if len(cfg.MetricsAllow) != len(want) {
		t.Fatalf("MetricsAllow = %v, want %v", cfg.MetricsAllow, want)
	}
	for i := range want {
		if cfg.MetricsAllow[i] != want[i] {
			t.Errorf("MetricsAllow[%d] = %v, want %v", i, cfg.MetricsAllow[i], want[i])
		}
	}
	if cfg.MetricsToken != "tok" {
		t.Errorf("MetricsToken = %q", cfg.MetricsToken)
	}
	_, err = serveConfig(t, nil, "--metrics-allow", "10.0.0.5,prometheus.internal")
	if err == nil || !strings.Contains(err.Error(), "PUENTE_METRICS_ALLOW / --metrics-allow") || !strings.Contains(err.Error(), "prometheus.internal") {
		t.Errorf("bad address: %v", err)
	}
}

func TestDevMailboxSetting(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want bool
		err  string
	}{
		{"zero setup (loopback default address)", nil, true, ""},
		{"localhost base URL", map[string]string{"PUENTE_BASE_URL": "http://localhost:8080"}, true, ""},
		{"IPv6 loopback", map[string]string{"PUENTE_BASE_URL": "http://[::1]:8080"}, true, ""},
		{"public base URL", map[string]string{"PUENTE_BASE_URL": "https://puente.example.org"}, false, ""},
		{"turned off on loopback", map[string]string{"PUENTE_DEV_MAILBOX": "false"}, false, ""},
		{"forced on for a public base URL", map[string]string{"PUENTE_BASE_URL": "https://puente.example.org", "PUENTE_DEV_MAILBOX": "true"}, false,
			"PUENTE_DEV_MAILBOX / --dev-mailbox"},
		{"public address to listen on", map[string]string{"PUENTE_ADDR": "0.0.0.0:8080", "PUENTE_BASE_URL": "http://203.0.113.7:8080", "PUENTE_DEV_MAILBOX": "1"}, false,
			"PUENTE_BASE_URL is http://203.0.113.7:8080"},
		{"not a boolean", map[string]string{"PUENTE_DEV_MAILBOX": "sometimes"}, false, "must be true or false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := serveConfig(t, tc.env)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.DevMailbox != tc.want {
				t.Errorf("DevMailbox = %v, want %v", cfg.DevMailbox, tc.want)
			}
		})
	}
}

// Every setting is in docs/configuration.md, flag and variable.
func TestSettingsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings() {
		if !strings.Contains(string(doc), "`--"+s.flag+"`") || !strings.Contains(string(doc), "`"+s.env+"`") {
			t.Errorf("docs/configuration.md does not list --%s / %s", s.flag, s.env)
		}
	}
}

func TestComposeSettings(t *testing.T) {
	cfg, err := serveConfig(t, nil)
	if err != nil || cfg.ComposeWorkers != 1 || cfg.FFmpeg != "/usr/bin/ffmpeg" {
		t.Fatalf("defaults: %d %q %v", cfg.ComposeWorkers, cfg.FFmpeg, err)
	}
	cfg, err = serveConfig(t, map[string]string{"PUENTE_COMPOSE_WORKERS": "2", "PUENTE_FFMPEG": "/opt/ffmpeg/bin/ffmpeg"})
	if err != nil || cfg.ComposeWorkers != 2 || cfg.FFmpeg != "/opt/ffmpeg/bin/ffmpeg" {
		t.Fatalf("set: %d %q %v", cfg.ComposeWorkers, cfg.FFmpeg, err)
	}
	for _, bad := range []string{"0", "9", "two"} {
		if _, err := serveConfig(t, map[string]string{"PUENTE_COMPOSE_WORKERS": bad}); err == nil ||
			!strings.Contains(err.Error(), "PUENTE_COMPOSE_WORKERS / --compose-workers") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
