package conformance

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kmipd/kmipd/hsmbackend"
	"github.com/kmipd/kmipd/kmip"
)

// The PyKMIP tests run Debian's python3-pykmip (0.10) client against the
// kmipd binary itself, started as `kmipd dev`: so they check the server's
// real TLS configuration (cmd/kmipd/tlsconfig.go) against a client we do
// not control, with an ECDSA P-256 and an RSA-2048 server certificate.
//
// What PyKMIP 0.10 on Python 3.11 needs: nothing special. Its KMIPProxy
// wraps the socket with ssl.wrap_socket and OpenSSL's default cipher list;
// with ssl_version=PROTOCOL_TLSv1_2 it negotiates TLS 1.2 with
// ECDHE-ECDSA-AES128-GCM-SHA256 or ECDHE-RSA-AES128-GCM-SHA256, with its
// default PROTOCOL_SSLv23 it negotiates TLS 1.3. Pass config_file (an
// empty file) so that no pykmip.conf on the machine changes the settings.

const pythonPath = "/usr/bin/python3"

// requirePyKMIP skips (or fails under KMIPD_REQUIRE_HSM=1) without PyKMIP.
func requirePyKMIP(t *testing.T) {
	t.Helper()
	out, err := exec.Command(pythonPath, "-c", "import kmip.services.kmip_client").CombinedOutput()
	if err != nil {
		err = fmt.Errorf("%w: %s (apt-get install python3-pykmip)", err, bytes.TrimSpace(out))
	}
	requireTool(t, "PyKMIP for "+pythonPath, err)
}

// requireSoftHSM returns the SoftHSM module kmipd dev should load.
func requireSoftHSM(t *testing.T) string {
	t.Helper()
	if m := os.Getenv("KMIPD_TEST_PKCS11_MODULE"); m != "" {
		return m
	}
	m, err := hsmbackend.FindSoftHSMModule()
	requireTool(t, "SoftHSM (kmipd dev needs it)", err)
	return m
}

// buildKmipd builds cmd/kmipd into a directory of the test.
func buildKmipd(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "kmipd")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goTool, "build", "-o", bin, "github.com/kmipd/kmipd/cmd/kmipd").CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./cmd/kmipd: %v\n%s", err, out)
	}
	return bin
}

// devServer is a running `kmipd dev`.
type devServer struct {
	cmd    *exec.Cmd
	addr   string
	dir    string
	mu     sync.Mutex
	output bytes.Buffer // stdout and stderr, for failure messages
	done   chan error   // Wait's result, sent once; taken by stop
	// exited is set, on the test's goroutine, once done was taken.
	exited bool
}

var servingRE = regexp.MustCompile(`kmipd is serving KMIP on (\S+) `)

// startDev runs `kmipd dev --data-dir dir --listen 127.0.0.1:0` and waits
// until it serves. The cleanup stops it with SIGTERM.
func startDev(t *testing.T, bin, dir, module string, extra ...string) *devServer {
	t.Helper()
	args := append([]string{"dev", "--data-dir", dir, "--listen", "127.0.0.1:0", "--pkcs11-module", module, "--log-level", "warn"}, extra...)
	s := &devServer{cmd: exec.Command(bin, args...), dir: dir, done: make(chan error, 1)}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stderr = s
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			_, _ = s.Write([]byte(line + "\n"))
			if m := servingRE.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		s.done <- s.cmd.Wait()
	}()
	t.Cleanup(func() { s.stop(t) })
	select {
	case s.addr = <-addr:
	case err := <-s.done:
		s.done <- err
		t.Fatalf("kmipd dev exited before serving: %v\n%s", err, s.log())
	case <-time.After(60 * time.Second):
		t.Fatalf("kmipd dev did not start serving\n%s", s.log())
	}
	return s
}

func (s *devServer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.output.Write(p)
}

func (s *devServer) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.output.String()
}

// stop sends SIGTERM and expects a clean exit (graceful shutdown).
func (s *devServer) stop(t *testing.T) {
	t.Helper()
	if s.exited {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		s.exited = true
		if err != nil {
			t.Errorf("kmipd dev exited with %v after SIGTERM\n%s", err, s.log())
		}
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		err := <-s.done
		s.exited = true
		t.Errorf("kmipd dev did not exit on SIGTERM (killed: %v)\n%s", err, s.log())
	}
}

// pykmipRun is one entry of discover_query.py's output.
type pykmipRun struct {
	SSL    string `json:"ssl"`
	KMIP   string `json:"kmip"`
	TLS    string `json:"tls"`
	Cipher string `json:"cipher"`
	Error  string `json:"error"`

	Discover struct {
		Status   string   `json:"status"`
		Versions []string `json:"versions"`
	} `json:"discover"`
	DiscoverSubset struct {
		Status   string   `json:"status"`
		Versions []string `json:"versions"`
	} `json:"discover_subset"`
	Query struct {
		Status            string   `json:"status"`
		Operations        []string `json:"operations"`
		Objects           []string `json:"objects"`
		Vendor            string   `json:"vendor"`
		ServerInformation bool     `json:"server_information"`
	} `json:"query"`
}

func TestPyKMIPDiscoverQuery(t *testing.T) {
	if testing.Short() {
		t.Skip("builds kmipd and runs PyKMIP")
	}
	requirePyKMIP(t)
	module := requireSoftHSM(t)
	bin := buildKmipd(t)
	script, err := filepath.Abs("testdata/pykmip/discover_query.py")
	if err != nil {
		t.Fatal(err)
	}
	var allVersions []string
	for _, v := range kmip.SupportedVersions {
		allVersions = append(allVersions, v.String())
	}
	tests := []struct {
		name         string
		args         []string
		cipherPrefix string // of the TLS 1.2 suite
		checkKey     func(any) bool
	}{
		{"ecdsa-p256", nil, "ECDHE-ECDSA-", func(k any) bool { _, ok := k.(*ecdsa.PublicKey); return ok }},
		{"rsa-2048", []string{"--rsa"}, "ECDHE-RSA-", func(k any) bool { r, ok := k.(*rsa.PublicKey); return ok && r.N.BitLen() == 2048 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			srv := startDev(t, bin, dir, module, tt.args...)
			certsDir := filepath.Join(dir, "certs")
			pair, err := tls.LoadX509KeyPair(filepath.Join(certsDir, "server.pem"), filepath.Join(certsDir, "server-key.pem"))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.checkKey(pair.Leaf.PublicKey) {
				t.Fatalf("server certificate key is %T, not %s", pair.Leaf.PublicKey, tt.name)
			}
			host, port, _ := strings.Cut(srv.addr, ":")
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, pythonPath, script, host, port,
				filepath.Join(certsDir, "ca.pem"), filepath.Join(certsDir, "client.pem"), filepath.Join(certsDir, "client-key.pem"))
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("discover_query.py: %v\n%s\nserver log:\n%s", err, stderr.String(), srv.log())
			}
			var res struct{ Runs []pykmipRun }
			if err := json.Unmarshal(out, &res); err != nil {
				t.Fatalf("discover_query.py output: %v\n%s", err, out)
			}
			if len(res.Runs) != 6 {
				t.Fatalf("%d runs, want 6:\n%s", len(res.Runs), out)
			}
			for _, r := range res.Runs {
				name := r.SSL + " KMIP " + r.KMIP
				if r.Error != "" {
					t.Errorf("%s: PyKMIP failed:\n%s\nserver log:\n%s", name, r.Error, srv.log())
					continue
				}
				switch r.SSL {
				case "PROTOCOL_TLSv1_2":
					if r.TLS != "TLSv1.2" || !strings.HasPrefix(r.Cipher, tt.cipherPrefix) {
						t.Errorf("%s: negotiated %s %s", name, r.TLS, r.Cipher)
					}
				default:
					if r.TLS != "TLSv1.3" {
						t.Errorf("%s: negotiated %s %s", name, r.TLS, r.Cipher)
					}
				}
				if r.Discover.Status != "SUCCESS" || !slices.Equal(r.Discover.Versions, allVersions) {
					t.Errorf("%s: Discover Versions %s %v, want %v", name, r.Discover.Status, r.Discover.Versions, allVersions)
				}
				if r.DiscoverSubset.Status != "SUCCESS" || !slices.Equal(r.DiscoverSubset.Versions, []string{"1.2", "1.0"}) {
					t.Errorf("%s: Discover Versions of 1.2 and 1.0: %s %v", name, r.DiscoverSubset.Status, r.DiscoverSubset.Versions)
				}
				q := r.Query
				if q.Status != "SUCCESS" || q.Vendor != "kmipd" || !q.ServerInformation {
					t.Errorf("%s: Query %+v", name, q)
				}
				for _, op := range []string{"QUERY", "DISCOVER_VERSIONS"} {
					if !slices.Contains(q.Operations, op) {
						t.Errorf("%s: Query Operations %v lacks %s", name, q.Operations, op)
					}
				}
			}
		})
	}
}
