package cli

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/puente-org/puente/relay"
	"github.com/puente-org/puente/sfu"
)

// serveConfig parses args as `puente serve` would, with env as the only settings from the
// environment (those of the environment running the test are unset).
func serveConfig(t *testing.T, env map[string]string, args ...string) (config, error) {
	t.Helper()
	for _, s := range settings() {
		t.Setenv(s.env, "") // restored after the test
		if err := os.Unsetenv(s.env); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	cfg, _, err := parseConfig("serve", append([]string{"--data-dir", t.TempDir()}, args...), true, nil, io.Discard)
	return cfg, err
}

// pemFiles are stand-ins for --turn-cert / --turn-key (the config checks they exist; the
// TURN server reads them).
func pemFiles(t *testing.T) (cert, key string) {
	dir := t.TempDir()
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for _, f := range []string{cert, key} {
		if err := os.WriteFile(f, []byte("-----BEGIN X-----\n-----END X-----\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return cert, key
}

func TestMediaDefaults(t *testing.T) {
	// Empty variables, as docker compose passes for unset ones, mean the defaults.
	cfg, err := serveConfig(t, map[string]string{"PUENTE_RTC_UDP_PORT": "", "PUENTE_RTC_TCP_PORT": "", "PUENTE_TURN_UDP_PORT": ""})
	if err != nil {
		t.Fatal(err)
	}
	n, err := cfg.network()
	if err != nil {
		t.Fatal(err)
	}
	if want := (sfu.Network{UDPPort: 7881, TCPPort: 7882}); !reflect.DeepEqual(n, want) {
		t.Errorf("network() = %+v, want %+v (all interfaces, no loopback test settings)", n, want)
	}
	if _, on, err := cfg.turn([]byte("secret"), "puente.example.org"); on || err != nil {
		t.Errorf("turn() = on %v, err %v; want TURN off by default", on, err)
	}
}

func TestMediaSettings(t *testing.T) {
	cert, key := pemFiles(t)
	cfg, err := serveConfig(t, map[string]string{"PUENTE_RTC_PUBLIC_IP": " 2001:db8::7, 203.0.113.7 ", "PUENTE_TURN_UDP_PORT": "3478"},
		"--rtc-udp-port", "50000", "--rtc-tcp-port", "-1",
		"--turn-tcp-port", "3478", "--turn-tls-port", "443", "--turn-cert", cert, "--turn-key", key)
	if err != nil {
		t.Fatal(err)
	}
	n, err := cfg.network()
	if err != nil {
		t.Fatal(err)
	}
	if want := (sfu.Network{UDPPort: 50000, TCPPort: -1, PublicIPs: []string{"2001:db8::7", "203.0.113.7"}}); !reflect.DeepEqual(n, want) {
		t.Errorf("network() = %+v, want %+v", n, want)
	}
	secret := []byte("0123456789abcdef0123456789abcdef")
	rc, on, err := cfg.turn(secret, "puente.example.org:8443")
	if err != nil || !on {
		t.Fatalf("turn() = on %v, err %v", on, err)
	}
	want := relay.Config{
		UDPPort: 3478, TCPPort: 3478, TLSPort: 443, PublicIP: "203.0.113.7", // the first IPv4 of --rtc-public-ip
		Realm: "puente.example.org", Host: "puente.example.org", CertFile: cert, KeyFile: key,
		Secret: secret, TTL: relay.DefaultTTL,
	}
	if !reflect.DeepEqual(rc, want) {
		t.Errorf("turn() = %+v\nwant %+v", rc, want)
	}

	cfg, err = serveConfig(t, nil, "--turn-udp-port", "3478", "--turn-public-ip", "198.51.100.9", "--rtc-public-ip", "203.0.113.7")
	if err != nil {
		t.Fatal(err)
	}
	if rc, _, _ := cfg.turn(secret, "[2001:db8::1]"); rc.PublicIP != "198.51.100.9" || rc.Host != "2001:db8::1" {
		t.Errorf("turn() public IP %q host %q, want --turn-public-ip and the bare IPv6 host", rc.PublicIP, rc.Host)
	}
}

func TestMediaBadSettings(t *testing.T) {
	cert, key := pemFiles(t)
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"UDP port too big", nil, []string{"--rtc-udp-port", "70000"}, "--rtc-udp-port"},
		{"UDP port not a number", nil, []string{"--rtc-udp-port", "seven"}, "--rtc-udp-port"},
		{"UDP port from the environment", map[string]string{"PUENTE_RTC_UDP_PORT": "-5"}, nil, "PUENTE_RTC_UDP_PORT / --rtc-udp-port"},
		{"TCP port below -1", nil, []string{"--rtc-tcp-port", "-2"}, "--rtc-tcp-port"},
		{"TURN port negative", nil, []string{"--turn-udp-port", "-1"}, "--turn-udp-port"},
		{"TURN TLS port too big", nil, []string{"--turn-tls-port", "65536"}, "--turn-tls-port"},
		{"public IP a host name", nil, []string{"--rtc-public-ip", "puente.example.org"}, "--rtc-public-ip"},
		{"public IP loopback", nil, []string{"--rtc-public-ip", "127.0.0.1"}, "--rtc-public-ip"},
		{"public IP bad local part", nil, []string{"--rtc-public-ip", "203.0.113.7/eth0"}, "--rtc-public-ip"},
		{"TLS without certificate", nil, []string{"--turn-tls-port", "5349", "--turn-public-ip", "203.0.113.7"}, "--turn-cert"},
		{"certificate without TLS", nil, []string{"--turn-cert", cert, "--turn-key", key}, "--turn-tls-port"},
		{"missing certificate file", nil, []string{"--turn-tls-port", "5349", "--turn-cert", cert + ".gone", "--turn-key", key, "--turn-public-ip", "203.0.113.7"}, "--turn-cert"},
		{"TURN without public IP", nil, []string{"--turn-udp-port", "3478"}, "--turn-public-ip"},
		{"TURN public IP a host name", nil, []string{"--turn-udp-port", "3478", "--turn-public-ip", "turn.example.org"}, "--turn-public-ip"},
		{"TURN on the media UDP port", nil, []string{"--turn-udp-port", "7881", "--turn-public-ip", "203.0.113.7"}, "--rtc-udp-port and --turn-udp-port"},
		{"ICE-TCP on the TURN TCP port", nil, []string{"--rtc-tcp-port", "3478", "--turn-tcp-port", "3478", "--turn-public-ip", "203.0.113.7"}, "--rtc-tcp-port and --turn-tcp-port"},
		{"TURN TLS on the web port", nil, []string{"--addr", "0.0.0.0:443", "--turn-tls-port", "443", "--turn-cert", cert, "--turn-key", key, "--turn-public-ip", "203.0.113.7"}, "--addr and --turn-tls-port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := serveConfig(t, tc.env, tc.args...)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q should name %q", err, tc.want)
			}
			var ue usageError
			if !errors.As(err, &ue) {
				t.Errorf("error %T is not a usage error (exit status 2)", err)
			}
		})
	}
}

// The media settings are in docs/configuration.md, flag and variable.
func TestMediaSettingsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings() {
		if !strings.HasPrefix(s.flag, "rtc-") && !strings.HasPrefix(s.flag, "turn-") {
			continue
		}
		if !strings.Contains(string(doc), "`--"+s.flag+"`") || !strings.Contains(string(doc), "`"+s.env+"`") {
			t.Errorf("docs/configuration.md does not list --%s / %s", s.flag, s.env)
		}
	}
}
