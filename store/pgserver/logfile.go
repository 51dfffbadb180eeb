package pgserver

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// maxLogSize: postgres.log is rotated (one old copy kept) when a start finds it larger.
const maxLogSize = 8 << 20

// openLog opens postgres.log for appending and returns the offset where this run's output
// starts, so a failure can quote just that. A file rather than a pipe: postgres keeps logging
// its shutdown after Puente is gone.
func openLog(path string) (*os.File, int64, error) {
	if st, err := os.Stat(path); err == nil && st.Size() > maxLogSize {
		_ = os.Rename(path, path+".1") // best effort: a failed rotation only means a bigger log
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, 0, fmt.Errorf("open postgres log: %w", err)
	}
	off, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		_ = f.Close()
		return nil, 0, fmt.Errorf("postgres log: %w", err)
	}
	return f, off, nil
}

// logTail returns up to n last lines written to path since offset.
func logTail(path string, offset int64, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(f, 1<<20))
	return lastLines(string(b), n)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// oneLine flattens s for error messages that must stay on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
