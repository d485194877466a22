package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
)

// kmipCipherSuites are Go's secure defaults followed by the suites of the
// KMIP 1.4 profiles (KMIP Profiles 1.4 §3.1 "Basic" and §3.2 "TLS 1.2
// Authentication Suite") that Go implements. PyKMIP's TLS 1.2 client offers
// only the latter for RSA certificates, so they must stay. TLS 1.3 suites are
// not configurable in Go and always on.
var kmipCipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	// KMIP profile suites.
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
	tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_RSA_WITH_AES_128_CBC_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	tls.TLS_RSA_WITH_AES_128_CBC_SHA,
	tls.TLS_RSA_WITH_AES_256_CBC_SHA,
}

// tlsMaterial is what SIGHUP reloads: the server certificate and the client
// CA bundle.
type tlsMaterial struct {
	cert    *tls.Certificate
	clients *x509.CertPool
}

// tlsReloader serves the current tlsMaterial to new handshakes; existing
// connections keep what they negotiated.
type tlsReloader struct {
	certFile, keyFile, caFile string
	current                   atomic.Pointer[tlsMaterial]
}

func (r *tlsReloader) load() error {
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("tls-cert %s / tls-key %s: %w", r.certFile, r.keyFile, err)
	}
	pem, err := os.ReadFile(r.caFile)
	if err != nil {
		return fmt.Errorf("tls-client-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("tls-client-ca %s: no PEM certificate found", r.caFile)
	}
	r.current.Store(&tlsMaterial{cert: &cert, clients: pool})
	return nil
}

// serverTLSConfig builds the listener's TLS configuration (KMIP 1.4 §8:
// mutual authentication with TLS 1.2 or later).
//
// By default a client certificate is required and verified against the CA
// bundle, and its leaf must list the clientAuth extended key usage: Go's
// verifier (like OpenSSL's) takes a certificate without any EKU extension
// as good for every use, so that check is ours. With allowMissingEKU, a
// certificate whose EKU list lacks clientAuth, or that has none, is accepted
// (vCenter generates such certificates); the chain is still verified.
//
// The checks run in VerifyConnection, which Go calls on every handshake,
// resumed ones included; VerifyPeerCertificate is skipped on resumption, so
// a session ticket issued before a SIGHUP would bypass a changed CA bundle.
func (r *tlsReloader) serverTLSConfig(allowMissingEKU bool) *tls.Config {
	base := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		CipherSuites: kmipCipherSuites,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return r.current.Load().cert, nil
		},
	}
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		m := r.current.Load()
		c := base.Clone()
		c.GetConfigForClient = nil
		if !allowMissingEKU {
			c.ClientAuth = tls.RequireAndVerifyClientCert
			c.ClientCAs = m.clients
			c.VerifyConnection = func(cs tls.ConnectionState) error {
				return requireClientAuthEKU(cs.PeerCertificates)
			}
			return c, nil
		}
		c.ClientAuth = tls.RequireAnyClientCert
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			return verifyClientChain(cs.PeerCertificates, m.clients)
		}
		return c, nil
	}
	return base
}

// requireClientAuthEKU refuses a client leaf whose extended key usages do
// not include clientAuth (or anyExtendedKeyUsage), an absent EKU extension
// included.
func requireClientAuthEKU(certs []*x509.Certificate) error {
	if len(certs) == 0 {
		return errors.New("tls: client certificate required")
	}
	for _, u := range certs[0].ExtKeyUsage {
		if u == x509.ExtKeyUsageClientAuth || u == x509.ExtKeyUsageAny {
			return nil
		}
	}
	return fmt.Errorf("tls: client certificate %q lacks the clientAuth extended key usage (set tls-allow-client-without-eku = true to accept it)", certs[0].Subject.CommonName)
}

// verifyClientChain verifies a client chain against roots, accepting any
// extended key usage.
func verifyClientChain(certs []*x509.Certificate, roots *x509.CertPool) error {
	if len(certs) == 0 {
		return errors.New("tls: client certificate required")
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	return err
}
