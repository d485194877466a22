package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"
)

// Key algorithms understood by [DevOptions], [PKIOptions] and
// [PKI.IssueServer]. The empty string means [KeyECDSAP256].
const (
	KeyECDSAP256 = "ecdsa-p256"
	KeyRSA2048   = "rsa-2048"
)

// Names written into the development certificates.
const (
	DevCACommonName     = "kmipd development CA"
	DevServerCommonName = "kmipd-dev-server"
	DevClientCommonName = "kmipd-dev-client"
)

const (
	// caYears is the CA lifetime.
	caYears = 10
	// leafDays is the leaf lifetime. It stays under the 825 days that Apple
	// platforms (and the CA/Browser Forum before them) accept for TLS server
	// certificates, so the dev certificates work with every client we test.
	leafDays = 730
	// backdate absorbs clock skew between the machine that mints and the one
	// that verifies.
	backdate = 5 * time.Minute
)

// defaultHosts are always in a server certificate's SANs, so a server on the
// loopback interface is reachable by name, IPv4 or IPv6.
var defaultHosts = []string{"localhost", "127.0.0.1", "::1"}

// ErrUnknownKeyAlgorithm is returned for a key algorithm other than
// [KeyECDSAP256] or [KeyRSA2048].
var ErrUnknownKeyAlgorithm = errors.New("unknown key algorithm")

// PKIOptions configures [NewTestPKI]. The zero value is ready to use.
type PKIOptions struct {
	// KeyAlgorithm of the CA key and the default for issued leaves;
	// "" means KeyECDSAP256.
	KeyAlgorithm string
	// CommonName of the CA; "" means DevCACommonName.
	CommonName string
}

// PKI is a CA that can issue TLS leaf certificates. It is safe for concurrent
// use: it holds no mutable state after construction.
type PKI struct {
	cert    *x509.Certificate
	certPEM []byte
	key     crypto.Signer
	keyAlg  string
}

// Issued is a leaf certificate and its key, both parsed and as PEM.
type Issued struct {
	// Certificate is ready for tls.Config.Certificates; Leaf is set.
	Certificate tls.Certificate
	// CertPEM holds the leaf certificate only (not the CA).
	CertPEM []byte
	// KeyPEM holds the PKCS #8 private key. It is secret: never log it.
	KeyPEM []byte
}

// NewTestPKI creates an in-memory CA. Nothing is written to disk.
func NewTestPKI(opts PKIOptions) (*PKI, error) {
	return newPKI(opts, time.Now())
}

func newPKI(opts PKIOptions, now time.Time) (*PKI, error) {
	alg, err := normalizeKeyAlgorithm(opts.KeyAlgorithm)
	if err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	cn := opts.CommonName
	if cn == "" {
		cn = DevCACommonName
	}
	key, err := generateKey(alg)
	if err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"kmipd development"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.AddDate(caYears, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// The CA signs leaves only, never intermediates.
		MaxPathLenZero: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create CA: sign: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("create CA: parse: %w", err)
	}
	return &PKI{
		cert:    cert,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		key:     key,
		keyAlg:  alg,
	}, nil
}

// loadPKI parses a CA certificate and its key, checking that they match and
// that the certificate may sign leaves.
func loadPKI(certPEM, keyPEM []byte) (*PKI, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	cert := pair.Leaf
	if cert == nil {
		if cert, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, err
		}
	}
	if len(pair.Certificate) != 1 {
		return nil, fmt.Errorf("want exactly one CA certificate, found %d", len(pair.Certificate))
	}
	if !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, errors.New("certificate is not a CA (needs basic constraints CA:TRUE and keyCertSign)")
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("private key of type %T cannot sign", pair.PrivateKey)
	}
	alg, err := keyAlgorithmOf(cert.PublicKey)
	if err != nil {
		return nil, err
	}
	return &PKI{cert: cert, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), key: signer, keyAlg: alg}, nil
}

// CAPEM returns a copy of the CA certificate in PEM form.
func (p *PKI) CAPEM() []byte {
	return append([]byte(nil), p.certPEM...)
}

// CACertificate returns the parsed CA certificate. Callers must not modify it.
func (p *PKI) CACertificate() *x509.Certificate {
	return p.cert
}

// CAPool returns a new pool holding only the CA, for tls.Config RootCAs
// (clients) or ClientCAs (servers).
func (p *PKI) CAPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.cert)
	return pool
}

// IssueServer issues a TLS server certificate (EKU serverAuth) whose SANs are
// localhost, 127.0.0.1 and ::1 plus hosts, each a DNS name or an IP address.
// keyAlg "" uses the CA's key algorithm.
func (p *PKI) IssueServer(hosts []string, keyAlg string) (*Issued, error) {
	return p.issueServer(hosts, keyAlg, time.Now())
}

// IssueClient issues a TLS client certificate for the subject common name cn.
// With eku it carries the clientAuth extended key usage; without, it carries
// no EKU at all, like the client certificates vCenter generates. Go's (and
// OpenSSL's) verifiers treat a missing EKU as "any usage", so servers must
// accept both. The key uses the CA's key algorithm.
func (p *PKI) IssueClient(cn string, eku bool) (*Issued, error) {
	return p.issueClient(cn, eku, "", time.Now())
}

func (p *PKI) issueServer(hosts []string, keyAlg string, now time.Time) (*Issued, error) {
	dnsNames, ips, err := splitHosts(append(append([]string(nil), defaultHosts...), hosts...))
	if err != nil {
		return nil, fmt.Errorf("issue server certificate: %w", err)
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: DevServerCommonName},
		DNSNames:    dnsNames,
		IPAddresses: ips,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	is, err := p.issue(tmpl, keyAlg, now)
	if err != nil {
		return nil, fmt.Errorf("issue server certificate: %w", err)
	}
	return is, nil
}

func (p *PKI) issueClient(cn string, eku bool, keyAlg string, now time.Time) (*Issued, error) {
	if cn == "" {
		return nil, errors.New("issue client certificate: empty common name")
	}
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: cn}}
	if eku {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	is, err := p.issue(tmpl, keyAlg, now)
	if err != nil {
		return nil, fmt.Errorf("issue client certificate %q: %w", cn, err)
	}
	return is, nil
}

// issue fills in what every leaf shares and signs tmpl with the CA.
func (p *PKI) issue(tmpl *x509.Certificate, keyAlg string, now time.Time) (*Issued, error) {
	if keyAlg == "" {
		keyAlg = p.keyAlg
	}
	alg, err := normalizeKeyAlgorithm(keyAlg)
	if err != nil {
		return nil, err
	}
	notAfter := now.AddDate(0, 0, leafDays)
	if notAfter.After(p.cert.NotAfter) {
		// A leaf must not outlive its issuer (RFC 5280 §6.1.3 checks each
		// certificate's own validity, so a longer leaf would just be broken
		// earlier than it claims).
		notAfter = p.cert.NotAfter
	}
	if !notAfter.After(now) {
		return nil, fmt.Errorf("CA %q expired on %s", p.cert.Subject.CommonName, p.cert.NotAfter.Format(time.DateOnly))
	}
	key, err := generateKey(alg)
	if err != nil {
		return nil, err
	}
	if tmpl.SerialNumber, err = randomSerial(); err != nil {
		return nil, err
	}
	tmpl.NotBefore = now.Add(-backdate)
	tmpl.NotAfter = notAfter
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	if alg == KeyRSA2048 {
		// TLS 1.2 RSA key exchange (which some PyKMIP/OpenSSL cipher lists
		// still offer) encrypts the premaster secret to the certificate key.
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, key.Public(), p.key)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	return &Issued{
		Certificate: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		CertPEM:     pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:      keyPEM,
	}, nil
}

// keyPEM encodes the CA key; only EnsureDev needs it, to write ca-key.pem.
func (p *PKI) keyPEM() ([]byte, error) {
	return encodeKey(p.key)
}

func normalizeKeyAlgorithm(alg string) (string, error) {
	switch strings.ToLower(alg) {
	case "", KeyECDSAP256:
		return KeyECDSAP256, nil
	case KeyRSA2048:
		return KeyRSA2048, nil
	}
	return "", fmt.Errorf("%w %q (want %q or %q)", ErrUnknownKeyAlgorithm, alg, KeyECDSAP256, KeyRSA2048)
}

func keyAlgorithmOf(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return KeyECDSAP256, nil
		}
		return "", fmt.Errorf("%w: ECDSA curve %s", ErrUnknownKeyAlgorithm, k.Curve.Params().Name)
	case *rsa.PublicKey:
		// Any RSA size issues RSA leaves; 2048 is what we generate.
		return KeyRSA2048, nil
	}
	return "", fmt.Errorf("%w: public key type %T", ErrUnknownKeyAlgorithm, pub)
}

func generateKey(alg string) (crypto.Signer, error) {
	switch alg {
	case KeyECDSAP256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generate %s key: %w", alg, err)
		}
		return k, nil
	case KeyRSA2048:
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("generate %s key: %w", alg, err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("generate key: %w %q", ErrUnknownKeyAlgorithm, alg)
}

// encodeKey writes a private key as PKCS #8 PEM, which OpenSSL (PyKMIP) and
// Go both read for RSA and ECDSA alike.
func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	clear(der)
	return out, nil
}

// randomSerial returns a positive 128-bit serial: RFC 5280 §4.1.2.2 allows
// up to 20 octets, and randomness keeps re-issued leaves distinct.
func randomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	n, err := rand.Int(rand.Reader, limit)
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

// splitHosts sorts hosts into DNS names and IP addresses, dropping duplicates
// and rejecting what is neither (such as "host:port").
func splitHosts(hosts []string) ([]string, []net.IP, error) {
	var dnsNames []string
	var ips []net.IP
	seen := make(map[string]bool, len(hosts))
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
			h = h[1 : len(h)-1]
		}
		if ip := net.ParseIP(h); ip != nil {
			if v4 := ip.To4(); v4 != nil {
				ip = v4
			}
			if !seen[ip.String()] {
				seen[ip.String()] = true
				ips = append(ips, ip)
			}
			continue
		}
		name := strings.ToLower(strings.TrimSuffix(h, "."))
		if err := checkDNSName(name); err != nil {
			return nil, nil, fmt.Errorf("host %q: %w", h, err)
		}
		if !seen[name] {
			seen[name] = true
			dnsNames = append(dnsNames, name)
		}
	}
	return dnsNames, ips, nil
}

// checkDNSName accepts what a SAN dNSName may hold (RFC 5280 §4.2.1.6, with a
// leading "*." wildcard label as RFC 6125 §6.4.3 allows).
func checkDNSName(name string) error {
	if name == "" {
		return errors.New("empty host name")
	}
	if len(name) > 253 {
		return errors.New("host name longer than 253 characters")
	}
	labels := strings.Split(name, ".")
	for i, l := range labels {
		if i == 0 && l == "*" && len(labels) > 1 {
			continue
		}
		if l == "" || len(l) > 63 {
			return errors.New("want a DNS name or an IP address without port")
		}
		for _, c := range l {
			ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
			if !ok {
				return errors.New("want a DNS name or an IP address without port")
			}
		}
	}
	return nil
}

// tlsKeyPair parses a certificate and its private key, checks that they match
// and returns the parsed certificate.
func tlsKeyPair(certPEM, keyPEM []byte) (*x509.Certificate, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	if pair.Leaf != nil {
		return pair.Leaf, nil
	}
	return x509.ParseCertificate(pair.Certificate[0])
}
