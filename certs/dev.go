package certs

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// File names inside the development directory.
const (
	CACertFile     = "ca.pem"
	CAKeyFile      = "ca-key.pem"
	ServerCertFile = "server.pem"
	ServerKeyFile  = "server-key.pem"
	ClientCertFile = "client.pem"
	ClientKeyFile  = "client-key.pem"
)

const (
	dirPerm  = 0o700
	keyPerm  = 0o600
	certPerm = 0o644
	// maxPEMFile bounds what EnsureDev reads: a PEM certificate or key is a
	// few KiB, so anything larger is not ours.
	maxPEMFile = 1 << 20
)

// DevOptions configures [EnsureDev]. The zero value is ready to use.
type DevOptions struct {
	// Hosts are extra server certificate SANs (DNS names or IP addresses)
	// beyond localhost, 127.0.0.1 and ::1.
	Hosts []string
	// KeyAlgorithm is KeyECDSAP256 ("" means that) or KeyRSA2048. It applies
	// to files EnsureDev creates; existing files keep their algorithm. A leaf
	// re-issued from an existing CA with "" uses the CA's algorithm.
	KeyAlgorithm string
}

// DevPaths names the files of the development PKI.
type DevPaths struct {
	Dir        string
	CACert     string
	CAKey      string
	ServerCert string
	ServerKey  string
	ClientCert string
	ClientKey  string
	// Created lists the base names of the files this call wrote; empty when
	// everything was reused.
	Created []string
}

// EnsureDev makes sure dir holds a development CA, a server certificate and a
// client certificate (CN kmipd-dev-client) that chain to it.
//
// Files that exist are reused byte for byte after validation: each key
// matches its certificate, each leaf verifies against the CA for its
// extended key usage and has not expired, and the server certificate covers
// localhost, 127.0.0.1, ::1 and opts.Hosts. A leaf whose certificate or key is
// missing is re-issued from the existing CA. A missing CA is only created
// when no leaf exists yet, because leaves from a lost CA could never verify
// again. Anything invalid is an error naming the file: EnsureDev never
// overwrites a file that exists, so it cannot destroy a key someone uses.
//
// EnsureDev is not safe for concurrent calls on the same dir.
func EnsureDev(dir string, opts DevOptions) (DevPaths, error) {
	paths := DevPaths{
		Dir:        dir,
		CACert:     filepath.Join(dir, CACertFile),
		CAKey:      filepath.Join(dir, CAKeyFile),
		ServerCert: filepath.Join(dir, ServerCertFile),
		ServerKey:  filepath.Join(dir, ServerKeyFile),
		ClientCert: filepath.Join(dir, ClientCertFile),
		ClientKey:  filepath.Join(dir, ClientKeyFile),
	}
	if _, err := normalizeKeyAlgorithm(opts.KeyAlgorithm); err != nil {
		return paths, fmt.Errorf("dev certs: %w", err)
	}
	// Validate hosts before anything touches the disk.
	if _, _, err := splitHosts(opts.Hosts); err != nil {
		return paths, fmt.Errorf("dev certs: %w", err)
	}
	if err := ensureDir(dir); err != nil {
		return paths, err
	}
	now := time.Now()

	pki, err := ensureCA(&paths, opts, now)
	if err != nil {
		return paths, err
	}

	serverHosts := append(append([]string(nil), defaultHosts...), opts.Hosts...)
	server := leafSpec{
		certPath: paths.ServerCert,
		keyPath:  paths.ServerKey,
		usage:    x509.ExtKeyUsageServerAuth,
		hosts:    serverHosts,
		issue: func() (*Issued, error) {
			return pki.issueServer(opts.Hosts, opts.KeyAlgorithm, now)
		},
	}
	client := leafSpec{
		certPath: paths.ClientCert,
		keyPath:  paths.ClientKey,
		usage:    x509.ExtKeyUsageClientAuth,
		issue: func() (*Issued, error) {
			return pki.issueClient(DevClientCommonName, true, opts.KeyAlgorithm, now)
		},
	}
	for _, l := range []leafSpec{server, client} {
		created, err := ensureLeaf(pki, l, now)
		if err != nil {
			return paths, err
		}
		paths.Created = append(paths.Created, created...)
	}
	if len(paths.Created) > 0 {
		if err := syncDir(dir); err != nil {
			return paths, err
		}
	}
	return paths, nil
}

// ensureDir creates dir (and missing parents) 0700. An existing directory
// keeps its mode: changing the mode of a directory someone else made (think
// ".") would be a surprise, and the 0600 key files protect themselves.
func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return fmt.Errorf("dev certs: create directory %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("dev certs: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("dev certs: %s is not a directory", dir)
	}
	return nil
}

func ensureCA(paths *DevPaths, opts DevOptions, now time.Time) (*PKI, error) {
	certOK, err := exists(paths.CACert)
	if err != nil {
		return nil, err
	}
	keyOK, err := exists(paths.CAKey)
	if err != nil {
		return nil, err
	}
	switch {
	case certOK && keyOK:
		certPEM, err := readPEMFile(paths.CACert, false)
		if err != nil {
			return nil, err
		}
		keyPEM, err := readPEMFile(paths.CAKey, true)
		if err != nil {
			return nil, err
		}
		pki, err := loadPKI(certPEM, keyPEM)
		clear(keyPEM)
		if err != nil {
			return nil, fmt.Errorf("dev certs: load CA from %s and %s: %w", paths.CACert, paths.CAKey, err)
		}
		if now.After(pki.cert.NotAfter) {
			return nil, fmt.Errorf("dev certs: CA %s expired on %s; delete the directory's files to start over",
				paths.CACert, pki.cert.NotAfter.Format(time.DateOnly))
		}
		return pki, nil
	case certOK != keyOK:
		missing := paths.CAKey
		if !certOK {
			missing = paths.CACert
		}
		return nil, fmt.Errorf("dev certs: %s is missing but its pair exists; restore it or delete both CA files and the leaves", missing)
	}
	for _, p := range []string{paths.ServerCert, paths.ServerKey, paths.ClientCert, paths.ClientKey} {
		ok, err := exists(p)
		if err != nil {
			return nil, err
		}
		if ok {
			return nil, fmt.Errorf("dev certs: %s exists but the CA that issued it (%s) is missing; delete the leaves to start over", p, paths.CACert)
		}
	}
	pki, err := newPKI(PKIOptions{KeyAlgorithm: opts.KeyAlgorithm}, now)
	if err != nil {
		return nil, fmt.Errorf("dev certs: %w", err)
	}
	keyPEM, err := pki.keyPEM()
	if err != nil {
		return nil, fmt.Errorf("dev certs: %w", err)
	}
	// Key first, certificate last: a crash in between leaves a key without a
	// certificate, which the next run reports instead of silently trusting.
	err = writeFileAtomic(paths.CAKey, keyPEM, keyPerm)
	clear(keyPEM)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(paths.CACert, pki.certPEM, certPerm); err != nil {
		return nil, err
	}
	paths.Created = append(paths.Created, CAKeyFile, CACertFile)
	return pki, nil
}

type leafSpec struct {
	certPath, keyPath string
	usage             x509.ExtKeyUsage
	hosts             []string // server only: names the certificate must cover
	issue             func() (*Issued, error)
}

// ensureLeaf reuses a valid leaf, or issues one when its certificate or key
// is missing (a key without its certificate is useless to anyone, so it is
// safe to replace).
func ensureLeaf(pki *PKI, l leafSpec, now time.Time) ([]string, error) {
	certOK, err := exists(l.certPath)
	if err != nil {
		return nil, err
	}
	keyOK, err := exists(l.keyPath)
	if err != nil {
		return nil, err
	}
	if certOK && keyOK {
		return nil, checkLeaf(pki, l, now)
	}
	is, err := l.issue()
	if err != nil {
		return nil, fmt.Errorf("dev certs: %s: %w", l.certPath, err)
	}
	err = writeFileAtomic(l.keyPath, is.KeyPEM, keyPerm)
	clear(is.KeyPEM)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(l.certPath, is.CertPEM, certPerm); err != nil {
		return nil, err
	}
	return []string{filepath.Base(l.keyPath), filepath.Base(l.certPath)}, nil
}

func checkLeaf(pki *PKI, l leafSpec, now time.Time) error {
	certPEM, err := readPEMFile(l.certPath, false)
	if err != nil {
		return err
	}
	keyPEM, err := readPEMFile(l.keyPath, true)
	if err != nil {
		return err
	}
	leaf, err := tlsKeyPair(certPEM, keyPEM)
	clear(keyPEM)
	if err != nil {
		return fmt.Errorf("dev certs: %s and %s: %w; delete both to re-issue", l.certPath, l.keyPath, err)
	}
	_, err = leaf.Verify(x509.VerifyOptions{
		Roots:       pki.CAPool(),
		CurrentTime: now,
		KeyUsages:   []x509.ExtKeyUsage{l.usage},
	})
	if err != nil {
		return fmt.Errorf("dev certs: %s does not verify against %s: %w; delete it and its key to re-issue",
			l.certPath, CACertFile, err)
	}
	for _, h := range l.hosts {
		if err := leaf.VerifyHostname(h); err != nil {
			return fmt.Errorf("dev certs: %s does not cover host %q; delete it and its key to re-issue with the new hosts",
				l.certPath, h)
		}
	}
	return nil
}

func exists(path string) (bool, error) {
	_, err := os.Lstat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("dev certs: %w", err)
}

// readPEMFile reads a regular file of bounded size. For private keys it also
// refuses modes that let other users read the key.
func readPEMFile(path string, secret bool) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dev certs: %w", err)
	}
	defer f.Close() //nolint:errcheck // read-only: everything read was checked already
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("dev certs: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("dev certs: %s is not a regular file", path)
	}
	if fi.Size() > maxPEMFile {
		return nil, fmt.Errorf("dev certs: %s is %d bytes, more than a PEM file of ours can be", path, fi.Size())
	}
	if secret && checkModes() && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("dev certs: private key %s has mode %#o, want %#o (chmod 600 %s)", path, fi.Mode().Perm(), keyPerm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxPEMFile))
	if err != nil {
		return nil, fmt.Errorf("dev certs: read %s: %w", path, err)
	}
	return b, nil
}

// writeFileAtomic writes through a temporary file in the same directory,
// fsyncs it and renames it over path, so readers see all of the file or none.
// The temporary file is created 0600, so a key is never briefly readable.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("dev certs: write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			// Best-effort cleanup on a path that already failed: err is
			// what the caller needs, and Close may rightly fail a second time.
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("dev certs: write %s: %w", path, err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("dev certs: write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("dev certs: sync %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("dev certs: close %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("dev certs: write %s: %w", path, err)
	}
	return nil
}

// syncDir makes the renames durable (fsync of the directory entry).
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("dev certs: sync directory %s: %w", dir, err)
	}
	defer d.Close() //nolint:errcheck // read-only handle: the Sync result is what matters
	if err := d.Sync(); err != nil {
		return fmt.Errorf("dev certs: sync directory %s: %w", dir, err)
	}
	return nil
}

// checkModes reports whether Unix permission bits mean anything here.
func checkModes() bool {
	return runtime.GOOS != "windows"
}
