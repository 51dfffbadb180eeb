package cli

import (
	"strings"
	"testing"
	"time"
)

// Sent emails keep their bodies 30 days unless PUENTE_MAIL_RETENTION says otherwise; a bad
// value is refused with the setting's name.
func TestMailRetentionSetting(t *testing.T) {
	cfg, err := serveConfig(t, nil)
	if err != nil || cfg.MailRetention != 30*24*time.Hour {
		t.Fatalf("default: %v %v", cfg.MailRetention, err)
	}
	if cfg, err = serveConfig(t, map[string]string{"PUENTE_MAIL_RETENTION": "168h"}); err != nil || cfg.MailRetention != 7*24*time.Hour {
		t.Fatalf("168h: %v %v", cfg.MailRetention, err)
	}
	if cfg, err = serveConfig(t, nil, "--mail-retention", "0"); err != nil || cfg.MailRetention != 0 {
		t.Fatalf("0: %v %v", cfg.MailRetention, err)
	}
	for _, bad := range []string{"30 days", "-1h"} {
		if _, err := serveConfig(t, map[string]string{"PUENTE_MAIL_RETENTION": bad}); err == nil || !strings.Contains(err.Error(), "PUENTE_MAIL_RETENTION") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
