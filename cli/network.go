package cli

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/puente-org/puente/relay"
	"github.com/puente-org/puente/sfu"
)

// mediaFlags holds the text of the live media settings (SFU ports, TURN) until parse
// checks it into the config.
type mediaFlags struct {
	rtcUDPPort, rtcTCPPort, rtcPublicIP   string
	turnUDPPort, turnTCPPort, turnTLSPort string
	turnCert, turnKey, turnPublicIP       string
	rtcLoopbackOnly                       string
	rtcBatchWrites                        string
	rtcAdapt                              string
}

func (f *mediaFlags) targets(m map[string]*string) {
	m["rtc-udp-port"], m["rtc-tcp-port"], m["rtc-public-ip"] = &f.rtcUDPPort, &f.rtcTCPPort, &f.rtcPublicIP
	m["turn-udp-port"], m["turn-tcp-port"], m["turn-tls-port"] = &f.turnUDPPort, &f.turnTCPPort, &f.turnTLSPort
	m["turn-cert"], m["turn-key"], m["turn-public-ip"] = &f.turnCert, &f.turnKey, &f.turnPublicIP
	m["rtc-loopback-only"] = &f.rtcLoopbackOnly
	m["rtc-batch-writes"] = &f.rtcBatchWrites
	m["rtc-adapt-to-bandwidth"] = &f.rtcAdapt
}

// parse fills c's live media settings; the errors name the setting to fix.
func (f *mediaFlags) parse(c *config) error {
	var err error
	for _, p := range []struct {
		text, flag, env string
		to              *int
	}{
		{f.rtcUDPPort, "rtc-udp-port", "PUENTE_RTC_UDP_PORT", &c.RTCUDPPort},
		{f.rtcTCPPort, "rtc-tcp-port", "PUENTE_RTC_TCP_PORT", &c.RTCTCPPort},
		{f.turnUDPPort, "turn-udp-port", "PUENTE_TURN_UDP_PORT", &c.TURNUDPPort},
		{f.turnTCPPort, "turn-tcp-port", "PUENTE_TURN_TCP_PORT", &c.TURNTCPPort},
		{f.turnTLSPort, "turn-tls-port", "PUENTE_TURN_TLS_PORT", &c.TURNTLSPort},
	} {
		text := strings.TrimSpace(p.text)
		if text == "" { // an empty variable, as docker compose passes for an unset one
			text = settingDefault(p.flag)
		}
		if *p.to, err = strconv.Atoi(text); err != nil {
			return usageError{fmt.Sprintf("%s / --%s %q must be a port number", p.env, p.flag, p.text)}
		}
	}
	c.RTCPublicIPs = nil
	for _, s := range strings.Split(f.rtcPublicIP, ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.RTCPublicIPs = append(c.RTCPublicIPs, s)
		}
	}
	c.TURNCert, c.TURNKey, c.TURNPublicIP = strings.TrimSpace(f.turnCert), strings.TrimSpace(f.turnKey), strings.TrimSpace(f.turnPublicIP)
	if text := strings.TrimSpace(f.rtcLoopbackOnly); text != "" {
		if c.RTCLoopbackOnly, err = strconv.ParseBool(text); err != nil {
			return usageError{fmt.Sprintf("PUENTE_RTC_LOOPBACK_ONLY / --rtc-loopback-only %q must be true or false", f.rtcLoopbackOnly)}
		}
	}
	c.RTCBatchWrites = false
	if text := strings.TrimSpace(f.rtcBatchWrites); text != "" {
		if c.RTCBatchWrites, err = strconv.ParseBool(text); err != nil {
			return usageError{fmt.Sprintf("PUENTE_RTC_BATCH_WRITES / --rtc-batch-writes %q must be true or false", f.rtcBatchWrites)}
		}
	}
	c.RTCAdapt = true
	if text := strings.TrimSpace(f.rtcAdapt); text != "" {
		if c.RTCAdapt, err = strconv.ParseBool(text); err != nil {
			return usageError{fmt.Sprintf("PUENTE_RTC_ADAPT_TO_BANDWIDTH / --rtc-adapt-to-bandwidth %q must be true or false", f.rtcAdapt)}
		}
	}
	return c.checkMedia()
}

func settingDefault(flag string) string {
	for _, s := range settings() {
		if s.flag == flag {
			return s.def
		}
	}
	return ""
}

func (c config) turnOn() bool { return c.TURNUDPPort != 0 || c.TURNTCPPort != 0 || c.TURNTLSPort != 0 }

// checkMedia checks the live media settings together.
func (c config) checkMedia() error {
	for _, p := range []struct {
		port, min int
		flag, env string
		off       string
	}{
		{c.RTCUDPPort, 0, "rtc-udp-port", "PUENTE_RTC_UDP_PORT", " (0 picks a free port)"},
		{c.RTCTCPPort, -1, "rtc-tcp-port", "PUENTE_RTC_TCP_PORT", ", or -1 for off"},
		{c.TURNUDPPort, 0, "turn-udp-port", "PUENTE_TURN_UDP_PORT", ", or 0 for off"},
		{c.TURNTCPPort, 0, "turn-tcp-port", "PUENTE_TURN_TCP_PORT", ", or 0 for off"},
		{c.TURNTLSPort, 0, "turn-tls-port", "PUENTE_TURN_TLS_PORT", ", or 0 for off"},
	} {
		if p.port < p.min || p.port > 65535 {
			return usageError{fmt.Sprintf("%s / --%s %d: the port must be from 1 to 65535%s", p.env, p.flag, p.port, p.off)}
		}
	}
	for _, s := range c.RTCPublicIPs {
		public, local, pinned := strings.Cut(s, "/")
		ip := net.ParseIP(public)
		if ip == nil || ip.IsUnspecified() || ip.IsLoopback() || ip.IsMulticast() || (pinned && net.ParseIP(local) == nil) {
			return usageError{fmt.Sprintf("PUENTE_RTC_PUBLIC_IP / --rtc-public-ip %q must be public IP addresses, comma separated (e.g. 203.0.113.7, or 203.0.113.7/10.0.0.5 to map one local address)", s)}
		}
	}

	// Two settings on one port would fail at start with "in use"; say which ones now.
	_, webPort, _ := net.SplitHostPort(c.Addr)
	web, _ := strconv.Atoi(webPort)
	udp := []namedPort{{c.RTCUDPPort, "rtc-udp-port"}, {c.TURNUDPPort, "turn-udp-port"}}
	tcp := []namedPort{{web, "addr"}, {c.RTCTCPPort, "rtc-tcp-port"}, {c.TURNTCPPort, "turn-tcp-port"}, {c.TURNTLSPort, "turn-tls-port"}}
	if err := distinctPorts("UDP", udp); err != nil {
		return err
	}
	if err := distinctPorts("TCP", tcp); err != nil {
		return err
	}

	if c.TURNTLSPort != 0 && (c.TURNCert == "" || c.TURNKey == "") {
		return usageError{"PUENTE_TURN_TLS_PORT / --turn-tls-port needs a certificate: set PUENTE_TURN_CERT / --turn-cert and PUENTE_TURN_KEY / --turn-key (PEM files)"}
	}
	if c.TURNTLSPort == 0 && (c.TURNCert != "" || c.TURNKey != "") {
		return usageError{"PUENTE_TURN_CERT / --turn-cert and PUENTE_TURN_KEY / --turn-key are for TURN over TLS: set PUENTE_TURN_TLS_PORT / --turn-tls-port too (e.g. 443 or 5349)"}
	}
	for _, f := range []struct{ path, flag, env string }{{c.TURNCert, "turn-cert", "PUENTE_TURN_CERT"}, {c.TURNKey, "turn-key", "PUENTE_TURN_KEY"}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			return usageError{fmt.Sprintf("%s / --%s: %v", f.env, f.flag, err)}
		}
	}
	if c.TURNPublicIP != "" {
		if ip := net.ParseIP(c.TURNPublicIP); ip == nil || ip.IsUnspecified() || ip.IsMulticast() {
			return usageError{fmt.Sprintf("PUENTE_TURN_PUBLIC_IP / --turn-public-ip %q must be the IP address clients reach the server at (e.g. 203.0.113.7)", c.TURNPublicIP)}
		}
	}
	if c.turnOn() && c.turnPublicIP() == "" {
		return usageError{"the TURN server needs the IP address clients reach it at: set PUENTE_TURN_PUBLIC_IP / --turn-public-ip (or PUENTE_RTC_PUBLIC_IP / --rtc-public-ip)"}
	}
	return nil
}

type namedPort struct {
	port int
	flag string
}

func distinctPorts(proto string, ports []namedPort) error {
	for i, a := range ports {
		for _, b := range ports[i+1:] {
			if a.port > 0 && a.port == b.port {
				return usageError{fmt.Sprintf("--%s and --%s both use %s port %d: give each its own port", a.flag, b.flag, proto, a.port)}
			}
		}
	}
	return nil
}

// turnPublicIP is --turn-public-ip, or else the first IPv4 address of --rtc-public-ip (the
// first of any family if none is IPv4): the SFU and the relay usually share the address.
func (c config) turnPublicIP() string {
	if c.TURNPublicIP != "" {
		return c.TURNPublicIP
	}
	first := ""
	for _, s := range c.RTCPublicIPs {
		public, _, _ := strings.Cut(s, "/")
		if ip := net.ParseIP(public); ip != nil && ip.To4() != nil {
			return public
		}
		if first == "" {
			first = public
		}
	}
	return first
}

// network is how the SFU reaches peers: on all interfaces, announcing the public IPs.
func (c config) network() (sfu.Network, error) {
	if err := c.checkMedia(); err != nil {
		return sfu.Network{}, err
	}
	return sfu.Network{UDPPort: c.RTCUDPPort, TCPPort: c.RTCTCPPort, PublicIPs: c.RTCPublicIPs, LoopbackOnly: c.RTCLoopbackOnly, BatchWrites: c.RTCBatchWrites}, nil
}

// turn is the built-in TURN server's configuration, enabled when any TURN port is set.
// host is the name clients use in turn: URLs and the realm, normally the base URL's host
// (a port, if any, is dropped); secret is the credentials' HMAC key.
func (c config) turn(secret []byte, host string) (relay.Config, bool, error) {
	if !c.turnOn() {
		return relay.Config{}, false, nil
	}
	if err := c.checkMedia(); err != nil {
		return relay.Config{}, false, err
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	public := c.turnPublicIP()
	if host == "" {
		host = public
	}
	return relay.Config{
		UDPPort: c.TURNUDPPort, TCPPort: c.TURNTCPPort, TLSPort: c.TURNTLSPort,
		PublicIP: public, Realm: host, Host: host,
		CertFile: c.TURNCert, KeyFile: c.TURNKey,
		Secret: secret, TTL: relay.DefaultTTL,
	}, true, nil
}
