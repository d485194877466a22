package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/kmipd/kmipd/conformance"
	"github.com/kmipd/kmipd/kmip"
)

// conformanceCommand plays the OASIS XML test vectors against any KMIP
// server over mutual TLS and prints one line per vector.
func conformanceCommand() *cli.Command {
	return &cli.Command{
		Name:  "conformance",
		Usage: "run the OASIS KMIP test vectors against a server",
		Description: "Plays every *.xml vector under --vectors (or the sets it names) against the server at --addr,\n" +
			"comparing each response with the vector's under the rules printed by --rules. The server's store\n" +
			"should be empty: several vectors expect Locate to find only their own objects.\n" +
			"Exits 1 when a vector fails.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "vectors", Usage: "directory of vectors: the testcases root or one set (e.g. .../kmip-1.4/mandatory)"},
			&cli.StringFlag{Name: "addr", Usage: "server address, host:port"},
			&cli.StringFlag{Name: "ca", Usage: "PEM file of the CA that signed the server certificate"},
			&cli.StringFlag{Name: "cert", Usage: "PEM file of the client certificate"},
			&cli.StringFlag{Name: "key", Usage: "PEM file of the client key"},
			&cli.StringFlag{Name: "server-name", Usage: "name to verify in the server certificate (default: the host of --addr)"},
			&cli.StringFlag{Name: "run", Usage: "only vectors whose set/ID matches this regular expression"},
			&cli.DurationFlag{Name: "timeout", Value: 2 * time.Minute, Usage: "time allowed for one response"},
			&cli.BoolFlag{Name: "rules", Usage: "print the comparison rules and exit"},
		},
		Action: runConformance,
	}
}

func runConformance(c *cli.Context) error {
	out := c.App.Writer
	if c.Bool("rules") {
		for _, r := range conformance.Rules {
			fmt.Fprintf(out, "%s\n  applies to: %s\n  action:     %s\n  why:        %s\n\n", r.ID, r.Scope, r.Action, r.Reason)
		}
		return nil
	}
	for _, name := range []string{"vectors", "addr", "ca", "cert", "key"} {
		if c.String(name) == "" {
			return fail(fmt.Errorf("conformance: --%s is required", name), "see kmipd conformance --help")
		}
	}
	var filter *regexp.Regexp
	if expr := c.String("run"); expr != "" {
		re, err := regexp.Compile(expr)
		if err != nil {
			return fail(fmt.Errorf("conformance: --run: %w", err), "give a Go regular expression, e.g. 'kmip-1.4/mandatory/SKLC'")
		}
		filter = re
	}
	tlsConfig, err := conformanceTLS(c.String("addr"), c.String("server-name"), c.String("ca"), c.String("cert"), c.String("key"))
	if err != nil {
		return fail(err, "check the PEM files")
	}
	names := kmip.NewNames()
	vs, err := conformance.LoadVectors(c.String("vectors"), nil, names)
	if err != nil {
		return fail(err, "--vectors must be a directory holding OASIS XML vectors (shared/conformance/testcases)")
	}
	if filter != nil {
		kept := vs[:0]
		for _, v := range vs {
			if filter.MatchString(v.Name()) {
				kept = append(kept, v)
			}
		}
		vs = kept
	}
	if len(vs) == 0 {
		return fail(errors.New("conformance: no vector matches --run"), "list the vectors with ls, and match set/ID")
	}
	addr := c.String("addr")
	r := &conformance.Runner{
		Names:   names,
		Timeout: c.Duration("timeout"),
		Dial: func(ctx context.Context) (net.Conn, error) {
			d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: tlsConfig}
			return d.DialContext(ctx, "tcp", addr)
		},
	}
	ctx := c.Context
	if ctx == nil {
		ctx = context.Background()
	}
	results := make([]conformance.Result, 0, len(vs))
	for _, v := range vs {
		if ctx.Err() != nil {
			break
		}
		results = append(results, r.Run(ctx, v))
	}
	if err := conformance.WriteTable(out, results); err != nil {
		return fail(fmt.Errorf("conformance: write: %w", err), "")
	}
	failed := 0
	for _, res := range results {
		if !res.Passed {
			failed++
		}
	}
	if failed > 0 || len(results) < len(vs) {
		return cli.Exit(fmt.Sprintf("conformance: %d of %d vectors failed", failed+len(vs)-len(results), len(vs)), 1)
	}
	return nil
}

// conformanceTLS builds the client side of mutual TLS (KMIP 1.4 §8).
func conformanceTLS(addr, serverName, caFile, certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("conformance: --cert %s / --key %s: %w", certFile, keyFile, err)
	}
	pem, err := os.ReadFile(filepath.Clean(caFile))
	if err != nil {
		return nil, fmt.Errorf("conformance: --ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("conformance: --ca %s: no PEM certificate found", caFile)
	}
	if serverName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("conformance: --addr %s: %w", addr, err)
		}
		serverName = host
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ServerName:   serverName,
	}, nil
}
