package certs

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// RSA key generation is slow on small machines, so tests share one CA per
// algorithm.
var (
	ecdsaPKI = sync.OnceValues(func() (*PKI, error) { return NewTestPKI(PKIOptions{}) })
	rsaPKI   = sync.OnceValues(func() (*PKI, error) { return NewTestPKI(PKIOptions{KeyAlgorithm: KeyRSA2048}) })
)

func mustPKI(t testing.TB, alg string) *PKI {
	t.Helper()
	f := ecdsaPKI
	if alg == KeyRSA2048 {
		f = rsaPKI
	}
	p, err := f()
	if err != nil {
		t.Fatalf("NewTestPKI(%s): %v", alg, err)
	}
	return p
}

func TestNewTestPKIUnknownAlgorithm(t *testing.T) {
	_, err := NewTestPKI(PKIOptions{KeyAlgorithm: "dsa-1024"})
	if !errors.Is(err, ErrUnknownKeyAlgorithm) {
		t.Fatalf("NewTestPKI(dsa-1024) error = %v, want ErrUnknownKeyAlgorithm", err)
	}
}

func TestCA(t *testing.T) {
	for _, alg := range []string{KeyECDSAP256, KeyRSA2048} {
		t.Run(alg, func(t *testing.T) {
			p := mustPKI(t, alg)
			ca := p.CACertificate()
			if !ca.IsCA || !ca.BasicConstraintsValid || ca.MaxPathLen != 0 || !ca.MaxPathLenZero {
				t.Errorf("CA basic constraints: IsCA=%v valid=%v maxPathLen=%d zero=%v", ca.IsCA, ca.BasicConstraintsValid, ca.MaxPathLen, ca.MaxPathLenZero)
			}
			if ca.KeyUsage&x509.KeyUsageCertSign == 0 {
				t.Errorf("CA key usage %v lacks CertSign", ca.KeyUsage)
			}
			if life := ca.NotAfter.Sub(ca.NotBefore); life < 10*365*24*time.Hour {
				t.Errorf("CA lifetime %v, want at least 10 years", life)
			}
			block, rest := pem.Decode(p.CAPEM())
			if block == nil || block.Type != "CERTIFICATE" || len(rest) != 0 {
				t.Fatalf("CAPEM is not one CERTIFICATE block")
			}
			// CAPEM returns a copy: changing it must not change the PKI.
			b := p.CAPEM()
			b[0] ^= 0xff
			if p.CAPEM()[0] == b[0] {
				t.Error("CAPEM shares its buffer with the PKI")
			}
			if got := p.CAPool(); !got.Equal(p.CAPool()) {
				t.Error("CAPool not stable")
			}
		})
	}
}

func TestIssueServer(t *testing.T) {
	tests := []struct {
		name    string
		caAlg   string
		keyAlg  string
		hosts   []string
		wantKey string
		wantErr bool
	}{
		{name: "ecdsa default", caAlg: KeyECDSAP256, wantKey: KeyECDSAP256},
		{name: "rsa from ecdsa CA", caAlg: KeyECDSAP256, keyAlg: KeyRSA2048, wantKey: KeyRSA2048},
		{name: "rsa CA default", caAlg: KeyRSA2048, wantKey: KeyRSA2048},
		{name: "extra hosts", caAlg: KeyECDSAP256, hosts: []string{"kmip.example.test", "10.1.2.3", "[fd00::1]", "*.svc.test"}, wantKey: KeyECDSAP256},
		{name: "host with port", caAlg: KeyECDSAP256, hosts: []string{"example.test:5696"}, wantErr: true},
		{name: "empty host", caAlg: KeyECDSAP256, hosts: []string{""}, wantErr: true},
		{name: "bad key algorithm", caAlg: KeyECDSAP256, keyAlg: "ed448", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustPKI(t, tc.caAlg)
			is, err := p.IssueServer(tc.hosts, tc.keyAlg)
			if tc.wantErr {
				if err == nil {
					t.Fatal("IssueServer succeeded, want error")
				}
				return
			}
			if err != nil {
				t.Fatalf("IssueServer: %v", err)
			}
			leaf := is.Certificate.Leaf
			checkLeafBasics(t, leaf, tc.wantKey)
			verifyEKU(t, p, leaf, x509.ExtKeyUsageServerAuth, true)
			verifyEKU(t, p, leaf, x509.ExtKeyUsageClientAuth, false)
			for _, h := range append([]string{"localhost", "127.0.0.1", "::1"}, "kmip.example.test", "10.1.2.3", "fd00::1", "a.svc.test") {
				want := h == "localhost" || h == "127.0.0.1" || h == "::1" || len(tc.hosts) > 0
				if err := leaf.VerifyHostname(h); (err == nil) != want {
					t.Errorf("VerifyHostname(%q) = %v, want ok=%v", h, err, want)
				}
			}
			if _, err := tls.X509KeyPair(is.CertPEM, is.KeyPEM); err != nil {
				t.Errorf("PEM pair does not load: %v", err)
			}
		})
	}
}

func TestIssueClient(t *testing.T) {
	tests := []struct {
		name    string
		cn      string
		eku     bool
		wantErr bool
	}{
		{name: "with EKU", cn: "alice", eku: true},
		// vCenter-style: no EKU at all, which verifiers read as any usage.
		{name: "without EKU", cn: "vcenter", eku: false},
		{name: "empty CN", cn: "", eku: true, wantErr: true},
	}
	p := mustPKI(t, KeyECDSAP256)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is, err := p.IssueClient(tc.cn, tc.eku)
			if tc.wantErr {
				if err == nil {
					t.Fatal("IssueClient succeeded, want error")
				}
				return
			}
			if err != nil {
				t.Fatalf("IssueClient: %v", err)
			}
			leaf := is.Certificate.Leaf
			checkLeafBasics(t, leaf, KeyECDSAP256)
			if leaf.Subject.CommonName != tc.cn {
				t.Errorf("CN = %q, want %q", leaf.Subject.CommonName, tc.cn)
			}
			if got := len(leaf.ExtKeyUsage); (got > 0) != tc.eku {
				t.Errorf("ExtKeyUsage = %v, want present=%v", leaf.ExtKeyUsage, tc.eku)
			}
			verifyEKU(t, p, leaf, x509.ExtKeyUsageClientAuth, true)
			// With the EKU it is a client certificate only; without, any usage.
			verifyEKU(t, p, leaf, x509.ExtKeyUsageServerAuth, !tc.eku)
		})
	}
}

func TestLeafNeverOutlivesCA(t *testing.T) {
	now := time.Now()
	p, err := newPKI(PKIOptions{}, now.AddDate(-9, -6, 0)) // CA with six months left
	if err != nil {
		t.Fatal(err)
	}
	is, err := p.issueServer(nil, "", now)
	if err != nil {
		t.Fatal(err)
	}
	if !is.Certificate.Leaf.NotAfter.Equal(p.cert.NotAfter) {
		t.Errorf("leaf NotAfter %v, want clamped to CA NotAfter %v", is.Certificate.Leaf.NotAfter, p.cert.NotAfter)
	}
	expired, err := newPKI(PKIOptions{}, now.AddDate(-11, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := expired.issueClient("x", true, "", now); err == nil {
		t.Error("issuing from an expired CA succeeded")
	}
}

func checkLeafBasics(t *testing.T, leaf *x509.Certificate, wantKey string) {
	t.Helper()
	if leaf == nil {
		t.Fatal("Issued.Certificate.Leaf is nil")
	}
	if leaf.IsCA {
		t.Error("leaf is a CA")
	}
	if life := leaf.NotAfter.Sub(leaf.NotBefore); life >= 825*24*time.Hour || life < 365*24*time.Hour {
		t.Errorf("leaf lifetime %v, want between 1 year and 825 days", life)
	}
	switch wantKey {
	case KeyECDSAP256:
		if _, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok {
			t.Errorf("leaf key %T, want ECDSA", leaf.PublicKey)
		}
	case KeyRSA2048:
		k, ok := leaf.PublicKey.(*rsa.PublicKey)
		if !ok || k.N.BitLen() != 2048 {
			t.Errorf("leaf key %T, want RSA 2048", leaf.PublicKey)
		}
		if leaf.KeyUsage&x509.KeyUsageKeyEncipherment == 0 {
			t.Error("RSA leaf lacks KeyEncipherment for TLS 1.2 RSA key exchange")
		}
	}
}

func verifyEKU(t *testing.T, p *PKI, leaf *x509.Certificate, usage x509.ExtKeyUsage, want bool) {
	t.Helper()
	_, err := leaf.Verify(x509.VerifyOptions{Roots: p.CAPool(), KeyUsages: []x509.ExtKeyUsage{usage}})
	if (err == nil) != want {
		t.Errorf("Verify for EKU %v: err = %v, want ok=%v", usage, err, want)
	}
	other := mustPKI(t, KeyRSA2048)
	if p == other {
		other = mustPKI(t, KeyECDSAP256)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: other.CAPool(), KeyUsages: []x509.ExtKeyUsage{usage}}); err == nil {
		t.Error("leaf verifies against an unrelated CA")
	}
}

// TestHandshake runs mutual TLS over net.Pipe, configured the way the kmip
// server will be: tls.RequireAndVerifyClientCert against our CA.
func TestHandshake(t *testing.T) {
	ec := mustPKI(t, KeyECDSAP256)
	other := mustPKI(t, KeyRSA2048)

	ecServer := mustIssue(t)(ec.IssueServer(nil, KeyECDSAP256))
	rsaServer := mustIssue(t)(ec.IssueServer(nil, KeyRSA2048))
	client := mustIssue(t)(ec.IssueClient("alice", true))
	noEKU := mustIssue(t)(ec.IssueClient("vcenter", false))
	serverAsClient := ecServer
	foreign := mustIssue(t)(other.IssueClient("mallory", true))

	tests := []struct {
		name       string
		server     *Issued
		client     *Issued // nil: no client certificate
		version    uint16
		suites     []uint16 // TLS 1.2 only
		serverName string
		wantErr    bool
	}{
		{name: "ecdsa tls1.3", server: ecServer, client: client, version: tls.VersionTLS13, serverName: "localhost"},
		{name: "ecdsa tls1.2", server: ecServer, client: client, version: tls.VersionTLS12, serverName: "127.0.0.1",
			suites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}},
		// PyKMIP's default TLS 1.2 client against an RSA server certificate.
		{name: "rsa tls1.2", server: rsaServer, client: client, version: tls.VersionTLS12, serverName: "::1",
			suites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}},
		{name: "rsa tls1.2 cbc", server: rsaServer, client: client, version: tls.VersionTLS12, serverName: "localhost",
			suites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}},
		{name: "rsa tls1.3", server: rsaServer, client: client, version: tls.VersionTLS13, serverName: "localhost"},
		{name: "client without EKU", server: ecServer, client: noEKU, version: tls.VersionTLS13, serverName: "localhost"},
		{name: "no client certificate", server: ecServer, client: nil, version: tls.VersionTLS13, serverName: "localhost", wantErr: true},
		{name: "client from another CA", server: ecServer, client: foreign, version: tls.VersionTLS13, serverName: "localhost", wantErr: true},
		{name: "server certificate as client", server: ecServer, client: serverAsClient, version: tls.VersionTLS12, serverName: "localhost", wantErr: true},
		{name: "wrong server name", server: ecServer, client: client, version: tls.VersionTLS13, serverName: "kmip.example.test", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			serverCfg := &tls.Config{
				Certificates: []tls.Certificate{tc.server.Certificate},
				ClientAuth:   tls.RequireAndVerifyClientCert,
				ClientCAs:    ec.CAPool(),
				MinVersion:   tls.VersionTLS12,
				MaxVersion:   tc.version,
				CipherSuites: tc.suites,
			}
			clientCfg := &tls.Config{
				RootCAs:      ec.CAPool(),
				ServerName:   tc.serverName,
				MinVersion:   tc.version,
				MaxVersion:   tc.version,
				CipherSuites: tc.suites,
			}
			if tc.client != nil {
				clientCfg.Certificates = []tls.Certificate{tc.client.Certificate}
			}
			peerCN, err := handshake(t, serverCfg, clientCfg)
			if tc.wantErr {
				if err == nil {
					t.Fatal("handshake succeeded, want failure")
				}
				t.Logf("handshake failed as expected: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			if want := tc.client.Certificate.Leaf.Subject.CommonName; peerCN != want {
				t.Errorf("server saw client CN %q, want %q", peerCN, want)
			}
		})
	}
}

func mustIssue(t *testing.T) func(*Issued, error) *Issued {
	return func(is *Issued, err error) *Issued {
		t.Helper()
		if err != nil {
			t.Fatalf("issue: %v", err)
		}
		return is
	}
}

// handshake connects a TLS client and server over loopback TCP (whose
// buffering, unlike net.Pipe, lets both sides send alerts at once), exchanges
// one byte each way so TLS 1.3 client-certificate failures surface, and
// returns the client CN the server verified.
func handshake(t *testing.T, serverCfg, clientCfg *tls.Config) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	type result struct {
		cn  string
		err error
	}
	done := make(chan result, 1)
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer raw.Close()
		srv := tls.Server(raw, serverCfg)
		err = srv.HandshakeContext(ctx)
		if err == nil {
			buf := make([]byte, 1)
			if _, err = io.ReadFull(srv, buf); err == nil {
				_, err = srv.Write(buf)
			}
		}
		var cn string
		if err == nil {
			cn = srv.ConnectionState().PeerCertificates[0].Subject.CommonName
		}
		done <- result{cn, err}
	}()

	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := raw.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	cli := tls.Client(raw, clientCfg)
	err = cli.HandshakeContext(ctx)
	if err == nil {
		if _, err = cli.Write([]byte{'k'}); err == nil {
			_, err = io.ReadFull(cli, make([]byte, 1))
		}
	}
	if err != nil {
		raw.Close() // unblock the server
	}
	r := <-done
	if r.err != nil {
		return "", r.err
	}
	return r.cn, err
}
