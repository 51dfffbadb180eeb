// Package pionlog sends Pion's logs (WebRTC, ICE, TURN) to slog, one level lower than Pion
// names them: Pion's own default shows only errors, and its warnings are per-peer noise (a
// stray packet on the media port, a candidate it ignores, a refused permission). At the
// default level (info) only Pion's errors appear, as warnings; debug shows its info and
// warnings.
package pionlog

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// Factory makes Pion loggers that write to Log, with the scope as an attribute.
type Factory struct{ Log *slog.Logger }

// NewLogger implements logging.LoggerFactory.
func (f Factory) NewLogger(scope string) logging.LeveledLogger {
	return logger{log: f.Log.With("scope", scope)}
}

type logger struct{ log *slog.Logger }

const (
	levelTrace = slog.LevelDebug - 8
	levelDebug = slog.LevelDebug - 4
)

func (l logger) logf(level slog.Level, format string, args ...any) {
	ctx := context.Background()
	if !l.log.Enabled(ctx, level) {
		return
	}
	l.log.Log(ctx, level, fmt.Sprintf(format, args...))
}

func (l logger) Trace(msg string)                  { l.logf(levelTrace, "%s", msg) }
func (l logger) Tracef(format string, args ...any) { l.logf(levelTrace, format, args...) }
func (l logger) Debug(msg string)                  { l.logf(levelDebug, "%s", msg) }
func (l logger) Debugf(format string, args ...any) { l.logf(levelDebug, format, args...) }
func (l logger) Info(msg string)                   { l.logf(slog.LevelDebug, "%s", msg) }
func (l logger) Infof(format string, args ...any)  { l.logf(slog.LevelDebug, format, args...) }
func (l logger) Warn(msg string)                   { l.logf(slog.LevelDebug, "%s", msg) }
func (l logger) Warnf(format string, args ...any)  { l.logf(slog.LevelDebug, format, args...) }
func (l logger) Error(msg string)                  { l.logf(slog.LevelWarn, "%s", msg) }
func (l logger) Errorf(format string, args ...any) { l.logf(slog.LevelWarn, format, args...) }
