package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/kmipd/kmipd/objects"
)

// The admin socket lets local tools reach a running server: the database is
// locked by the server's process (bbolt's flock), so an online backup must
// be taken by the server itself. The socket lives in the data directory
// (0700) with mode 0600: only the server's own user can use it.
//
// Protocol: one line naming the command ("backup\n"); the server answers
// "ok\n" followed by the payload and closes, or "error: <text>\n".

const adminSocketName = "admin.sock"

func adminSocketPath(dataDir string) string { return filepath.Join(dataDir, adminSocketName) }

// serveAdmin listens on the admin socket until ctx ends.
func serveAdmin(ctx context.Context, dataDir string, store objects.Store, log hclog.Logger) (func(), error) {
	path := adminSocketPath(dataDir)
	// A socket left by a crashed server is stale: nothing can be listening
	// on it, since the database lock is ours.
	_ = os.Remove(path)
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		_ = ln.Close() // the chmod error is the one to report
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go handleAdmin(ctx, c, store, log)
		}
	}()
	// Best effort at shutdown: a socket left behind is stale and removed
	// by the next start (above).
	return func() { _ = ln.Close(); _ = os.Remove(path) }, nil
}

func handleAdmin(ctx context.Context, c net.Conn, store objects.Store, log hclog.Logger) {
	// A failed close can only truncate what the client reads, and the
	// client checks the snapshot it receives (checkBackup).
	defer c.Close() //nolint:errcheck // see above
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(io.LimitReader(c, 256)).ReadString('\n')
	if err != nil {
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	switch cmd := strings.TrimSpace(line); cmd {
	case "backup":
		if _, err := io.WriteString(c, "ok\n"); err != nil {
			return
		}
		n, err := store.Backup(ctx, c)
		if err != nil {
			log.Error("online backup failed", "error", err)
			return
		}
		log.Info("online backup written", "bytes", n)
	default:
		fmt.Fprintf(c, "error: unknown command %q\n", cmd)
	}
}

// backupOnline asks a running server for a snapshot into w.
func backupOnline(ctx context.Context, dataDir string, w io.Writer) (int64, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", adminSocketPath(dataDir))
	if err != nil {
		return 0, err
	}
	defer c.Close() //nolint:errcheck // the result is io.Copy's; closing the read side cannot change it
	if _, err := io.WriteString(c, "backup\n"); err != nil {
		return 0, err
	}
	r := bufio.NewReader(c)
	status, err := r.ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("admin socket: %w", err)
	}
	if status != "ok\n" {
		return 0, errors.New("server refused: " + strings.TrimSpace(status))
	}
	return io.Copy(w, r)
}
