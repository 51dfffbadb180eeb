package sfu

import "strings"

// withOpusFmtp sets useinbandfec=1 and usedtx=1 on every Opus payload type of the answer
// sent to a publisher. Pion answers with the offerer's fmtp, but in an answer these
// parameters say what the answerer wants to receive: browsers offer
// "minptime=10;useinbandfec=1", and only an answer that asks for DTX makes their encoder
// send (almost) nothing in silence. Only the copy sent changes: Pion refuses a changed
// answer as its local description, and the SFU forwards Opus without decoding it.
func withOpusFmtp(sdp string) string {
	lines := strings.SplitAfter(sdp, "\n")
	opus := map[string]bool{}
	for _, line := range lines {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "a=rtpmap:"); ok {
			if pt, codec, ok := strings.Cut(rest, " "); ok && strings.HasPrefix(strings.ToLower(codec), "opus/") {
				opus[pt] = true
			}
		}
	}
	if len(opus) == 0 {
		return sdp
	}
	var b strings.Builder
	b.Grow(len(sdp) + 32*len(opus))
	for _, line := range lines {
		body := strings.TrimRight(line, "\r\n")
		eol := line[len(body):]
		if rest, ok := strings.CutPrefix(body, "a=fmtp:"); ok {
			if pt, params, ok := strings.Cut(rest, " "); ok && opus[pt] {
				b.WriteString("a=fmtp:" + pt + " " + setFmtp(params, "useinbandfec", "usedtx") + eol)
				continue
			}
		}
		b.WriteString(line)
		if rest, ok := strings.CutPrefix(body, "a=rtpmap:"); ok {
			// An Opus payload type without fmtp gets one, right after its rtpmap.
			if pt, _, ok := strings.Cut(rest, " "); ok && opus[pt] && !strings.Contains(sdp, "a=fmtp:"+pt+" ") {
				b.WriteString("a=fmtp:" + pt + " " + setFmtp("", "useinbandfec", "usedtx") + eol)
			}
		}
	}
	return b.String()
}

// setFmtp sets each key to 1 in an fmtp parameter list, keeping the others in order.
func setFmtp(params string, keys ...string) string {
	var out []string
	set := map[string]bool{}
	for _, kv := range strings.Split(params, ";") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, _, _ := strings.Cut(kv, "=")
		for _, key := range keys {
			if strings.EqualFold(k, key) {
				kv, set[key] = key+"=1", true
			}
		}
		out = append(out, kv)
	}
	for _, key := range keys {
		if !set[key] {
			out = append(out, key+"=1")
		}
	}
	return strings.Join(out, ";")
}
