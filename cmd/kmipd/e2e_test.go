package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kmipd/kmipd/certs"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// End-to-end tests of `kmipd dev` and `kmipd serve` as programs, with
// SoftHSM: startup, the printed help, KMIP over TLS with the dev client
// certificate, restart, SIGHUP and SIGTERM.

var (
	devServingRE   = regexp.MustCompile(`kmipd is serving KMIP on (\S+) \(development mode\)`)
	devHelpEndRE   = regexp.MustCompile(`^Stop with Ctrl-C`)
	serveServingRE = regexp.MustCompile(`serving KMIP: addr=(\S+)`)
	reloadedRE     = regexp.MustCompile(`certificates reloaded`)
	shuttingDownRE = regexp.MustCompile(`shutting down`)
)

// devClientTLS is a client configuration from the files kmipd dev wrote.
func devClientTLS(t *testing.T, dir string) *tls.Config {
	t.Helper()
	certsDir := filepath.Join(dir, "certs")
	pair, err := tls.LoadX509KeyPair(filepath.Join(certsDir, certs.ClientCertFile), filepath.Join(certsDir, certs.ClientKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(certsDir, certs.CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("no CA certificate in the dev ca.pem")
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: pool, ServerName: "localhost"}
}

// kmipConn is an open client connection.
type kmipConn struct{ *tls.Conn }

func dialKMIP(t *testing.T, addr string, cfg *tls.Config) *kmipConn {
	t.Helper()
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: cfg}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &kmipConn{c.(*tls.Conn)}
}

// discover sends Discover Versions on the open connection.
func (c *kmipConn) discover() error {
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	defer func() { _ = c.SetDeadline(time.Time{}) }()
	if _, err := c.Write(discoverVersions14); err != nil {
		return err
	}
	raw, err := ttlv.ReadMessage(c, nil, ttlv.Limits{})
	if err != nil {
		return err
	}
	v, err := ttlv.Decode(raw, ttlv.Limits{})
	if err != nil {
		return err
	}
	item, _ := v.Child(kmip.TagBatchItem)
	if st, _ := item.Child(kmip.TagResultStatus); kmip.ResultStatus(st.Enum()) != kmip.ResultStatusSuccess {
		return errors.New("discover versions failed")
	}
	return nil
}

// closedByServer reports whether the server closed c within d.
func (c *kmipConn) closedByServer(d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && (!errors.As(err, &ne) || !ne.Timeout())
}

// snapshot reads the files whose reuse a restart must preserve.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, rel := range []string{
		"certs/" + certs.CACertFile, "certs/" + certs.CAKeyFile, "certs/" + certs.ServerCertFile,
		"certs/" + certs.ServerKeyFile, "certs/" + certs.ClientCertFile, "certs/" + certs.ClientKeyFile,
		"softhsm/user.pin", "softhsm/so.pin", "softhsm/softhsm2.conf", "audit.key",
	} {
		b, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatalf("after kmipd dev: %v", err)
		}
		out[rel] = b
	}
	return out
}

func tokenDirs(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "softhsm", "tokens"))
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// TestDevEndToEnd: `kmipd dev` creates certificates, a SoftHSM token and its
// master key, prints how to connect, serves Discover Versions to the dev
// client certificate, stops on SIGTERM, and on restart reuses everything.
func TestDevEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kmipd dev twice with SoftHSM")
	}
	module := softHSMModule(t)
	dir := t.TempDir()
	args := []string{"dev", "--data-dir", dir, "--listen", "127.0.0.1:0", "--pkcs11-module", module}

	p := startKmipd(t, nil, args...)
	addr := p.waitFor(devServingRE, time.Minute)[1]
	p.waitFor(devHelpEndRE, 10*time.Second) // the help's last line
	out := p.output()
	for _, want := range []string{
		"created development certificates in " + filepath.Join(dir, "certs"),
		`created SoftHSM token "kmipd-dev"`,
		`created master wrapping key "kmipd-master-v1"`,
		"client cert: " + filepath.Join(dir, "certs", "client.pem"),
		"client key:  " + filepath.Join(dir, "certs", "client-key.pem"),
		"PyKMIP:",
		"ProxyKmipClient(hostname=\"127.0.0.1\"",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("kmipd dev output lacks %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{"user.pin", "so.pin"} {
		pin, err := os.ReadFile(filepath.Join(dir, "softhsm", secret))
		if err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(filepath.Join(dir, "softhsm", secret)); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", secret, fi.Mode().Perm())
		}
		if p := strings.TrimSpace(string(pin)); p == "" || strings.Contains(out, p) {
			t.Errorf("%s empty or printed", secret)
		}
	}
	client := devClientTLS(t, dir)
	c := dialKMIP(t, addr, client)
	if err := c.discover(); err != nil {
		t.Fatalf("Discover Versions with the dev client certificate: %v\n%s", err, p.output())
	}
	p.stop(syscall.SIGTERM, 30*time.Second)
	if !c.closedByServer(5 * time.Second) {
		t.Error("client connection still open after the server exited")
	}
	before := snapshot(t, dir)
	if n := tokenDirs(t, dir); n != 1 {
		t.Fatalf("%d SoftHSM tokens after the first run", n)
	}

	// Restart: everything is reused, nothing is created.
	p = startKmipd(t, nil, args...)
	addr = p.waitFor(devServingRE, time.Minute)[1]
	p.waitFor(devHelpEndRE, 10*time.Second)
	if out := p.output(); strings.Contains(out, "created ") {
		t.Errorf("restart created something:\n%s", out)
	}
	after := snapshot(t, dir)
	for name, b := range before {
		if !bytes.Equal(b, after[name]) {
			t.Errorf("%s changed across the restart", name)
		}
	}
	if n := tokenDirs(t, dir); n != 1 {
		t.Errorf("%d SoftHSM tokens after the restart", n)
	}
	if err := dialKMIP(t, addr, client).discover(); err != nil {
		t.Fatalf("after restart: %v\n%s", err, p.output())
	}
	p.stop(syscall.SIGTERM, 30*time.Second)
}

// devToken prepares a SoftHSM token with its master key by running kmipd
// dev once, and returns its directory.
func devToken(t *testing.T, module string) string {
	t.Helper()
	dir := t.TempDir()
	p := startKmipd(t, nil, "dev", "--data-dir", dir, "--listen", "127.0.0.1:0", "--pkcs11-module", module, "--log-level", "warn")
	p.waitFor(devServingRE, time.Minute)
	p.stop(syscall.SIGTERM, 30*time.Second)
	return dir
}

// TestServeSignalsAndEKU runs `kmipd serve` with a config file on the dev
// token: SIGHUP reloads the server certificate for new connections while
// open ones go on, SIGTERM shuts down gracefully (exit 0, idle connections
// closed), and a client certificate without the clientAuth EKU is refused
// unless tls-allow-client-without-eku is true (given as a flag, which
// beats the file's false).
func TestServeSignalsAndEKU(t *testing.T) {
	if testing.Short() {
		t.Skip("runs kmipd serve with SoftHSM")
	}
	module := softHSMModule(t)
	tokenDir := devToken(t, module)
	f := newTLSFixture(t)
	dataDir := t.TempDir()
	conf := writeConfig(t, strings.Join([]string{
		"# kmipd serve, end-to-end test",
		"listen = 127.0.0.1:0",
		"data-dir = " + dataDir,
		"tls-cert = " + f.certFile,
		"tls-key = " + f.keyFile,
		"tls-client-ca = " + f.caFile,
		"tls-allow-client-without-eku = false",
		"pkcs11-module = " + module,
		"pkcs11-token-label = kmipd-dev",
		"pkcs11-pin-file = " + filepath.Join(tokenDir, "softhsm", "user.pin"),
		"shutdown-timeout = 10s",
		"log-level = info",
	}, "\n")+"\n")
	env := []string{"SOFTHSM2_CONF=" + filepath.Join(tokenDir, "softhsm", "softhsm2.conf")}

	p := startKmipd(t, env, "serve", "--config", conf)
	addr := p.waitFor(serveServingRE, time.Minute)[1]
	withEKU, withoutEKU := f.client(t, f.pki, true), f.client(t, f.pki, false)

	open := dialKMIP(t, addr, withEKU)
	if err := open.discover(); err != nil {
		t.Fatalf("client with clientAuth EKU: %v\n%s", err, p.output())
	}
	if _, err := kmipCall(addr, withoutEKU); err == nil {
		t.Error("client without the clientAuth EKU accepted by default")
	}

	// SIGHUP: a new server certificate for new connections.
	oldSerial := open.ConnectionState().PeerCertificates[0].SerialNumber
	newCert := f.writeServerCert(t, f.pki)
	reloaded := p.expect(reloadedRE)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	reloaded(30 * time.Second)
	st, err := kmipCall(addr, withEKU)
	if err != nil {
		t.Fatalf("after SIGHUP: %v", err)
	}
	if got := st.PeerCertificates[0].SerialNumber; got.Cmp(newCert.Certificate.Leaf.SerialNumber) != 0 || got.Cmp(oldSerial) == 0 {
		t.Errorf("after SIGHUP the server presents serial %v, want the new %v", got, newCert.Certificate.Leaf.SerialNumber)
	}
	if err := open.discover(); err != nil {
		t.Errorf("connection opened before SIGHUP: %v", err)
	}

	// SIGTERM: graceful stop.
	start := time.Now()
	p.stop(syscall.SIGTERM, 20*time.Second)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("SIGTERM took %v with only idle connections", d)
	}
	p.waitForOutput(shuttingDownRE, time.Second)
	if !open.closedByServer(5 * time.Second) {
		t.Error("idle connection not closed by the shutdown")
	}

	// The flag beats the file: allow clients without the EKU.
	p = startKmipd(t, env, "serve", "--config", conf, "--tls-allow-client-without-eku=true")
	addr = p.waitFor(serveServingRE, time.Minute)[1]
	if _, err := kmipCall(addr, withoutEKU); err != nil {
		t.Errorf("client without EKU refused with tls-allow-client-without-eku=true: %v\n%s", err, p.output())
	}
	if _, err := kmipCall(addr, withEKU); err != nil {
		t.Errorf("client with EKU: %v", err)
	}
	other, err := certs.NewTestPKI(certs.PKIOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kmipCall(addr, f.client(t, other, false)); err == nil {
		t.Error("client of another CA accepted")
	}
	p.stop(syscall.SIGINT, 20*time.Second)
}

// TestServeRefusesMissingPIN: serve without a PIN fails with one line and a
// hint, before loading the module or listening.
func TestServeRefusesMissingPIN(t *testing.T) {
	module := filepath.Join(t.TempDir(), "never-loaded.so")
	f := newTLSFixture(t)
	_, stderr, code := runKmipdBinary(t, nil, "serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(),
		"--tls-cert", f.certFile, "--tls-key", f.keyFile, "--tls-client-ca", f.caFile, "--pkcs11-module", module)
	if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "no HSM PIN given") || !strings.Contains(stderr, "KMIPD_PKCS11_PIN") {
		t.Errorf("code %d, stderr %q", code, stderr)
	}
}
