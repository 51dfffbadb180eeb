package cli

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/puente-org/puente/recording/compose"
	"github.com/puente-org/puente/recording/storage"
	"github.com/puente-org/puente/store"
)

// startComposing runs the composition of stopped recordings in the background until ctx
// ends: cfg.ComposeWorkers at a time across all instances, written under the data
// directory's tmp/compose and stored in stor. Track directories that are relative are
// under the data directory. With no storage there is nowhere to put the result: nothing
// is composed and the recordings wait in the queue.
func startComposing(ctx context.Context, wg *sync.WaitGroup, cfg config, st *store.Store, stor storage.Storage, log *slog.Logger) {
	log = log.With("component", "compose")
	if stor == nil {
		log.Warn("no storage for recordings: stopped recordings wait in the queue")
		return
	}
	tmp := filepath.Join(cfg.DataDir, "tmp", "compose")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		log.Error("recordings cannot be composed: no temporary directory", "dir", tmp, "err", err)
		return
	}
	r := &compose.Runner{
		Jobs: st, Storage: stor, Workers: cfg.ComposeWorkers, Tracks: recordingTracksDir(cfg), TempDir: tmp, Logger: log,
		Composer: compose.Composer{FFmpeg: cfg.FFmpeg, Setting: "PUENTE_FFMPEG / --ffmpeg", Logger: log},
	}
	wg.Go(func() { r.Run(ctx) })
}

// recordingTracksDir is where recordings' per-track files are written while a session is
// recorded, and read by the composition: the data directory's recording-tracks.
func recordingTracksDir(cfg config) string { return filepath.Join(cfg.DataDir, "recording-tracks") }
