package relay

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// loggerFactory sends pion's logs to slog one level lower than pion names them: pion's own
// default shows only errors, and its warnings and infos are per-client noise (a refused
// permission, a malformed packet from a scanner). At the default level (info) only pion's
// errors appear, as warnings; debug shows the rest.
type loggerFactory struct{ log *slog.Logger }

func (f loggerFactory) NewLogger(scope string) logging.LeveledLogger {
	return leveledLogger{log: f.log.With("scope", scope)}
}

type leveledLogger struct{ log *slog.Logger }

const (
	pionTrace = slog.LevelDebug - 8
	pionDebug = slog.LevelDebug - 4
)

func (l leveledLogger) logf(level slog.Level, format string, args ...any) {
	ctx := context.Background()
	if !l.log.Enabled(ctx, level) {
		return
	}
	l.log.Log(ctx, level, fmt.Sprintf(format, args...))
}

func (l leveledLogger) Trace(msg string)                  { l.logf(pionTrace, "%s", msg) }
func (l leveledLogger) Tracef(format string, args ...any) { l.logf(pionTrace, format, args...) }
func (l leveledLogger) Debug(msg string)                  { l.logf(pionDebug, "%s", msg) }
func (l leveledLogger) Debugf(format string, args ...any) { l.logf(pionDebug, format, args...) }
func (l leveledLogger) Info(msg string)                   { l.logf(slog.LevelDebug, "%s", msg) }
func (l leveledLogger) Infof(format string, args ...any)  { l.logf(slog.LevelDebug, format, args...) }
func (l leveledLogger) Warn(msg string)                   { l.logf(slog.LevelDebug, "%s", msg) }
func (l leveledLogger) Warnf(format string, args ...any)  { l.logf(slog.LevelDebug, format, args...) }
func (l leveledLogger) Error(msg string)                  { l.logf(slog.LevelWarn, "%s", msg) }
func (l leveledLogger) Errorf(format string, args ...any) { l.logf(slog.LevelWarn, format, args...) }
