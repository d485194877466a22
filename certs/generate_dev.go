//go:build ignore

// Command generate_dev writes a development PKI (CA, server and client
// certificates) for kmipd, for people who want only certificates:
//
//	go run ./certs/generate_dev.go -dir ./var/certs [-host kmip.example.test] [-key-alg rsa-2048]
//
// It reuses files that already exist and are valid. Never commit the output.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/kmipd/kmipd/certs"
)

type hostList []string

func (h *hostList) String() string { return strings.Join(*h, ",") }

func (h *hostList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*h = append(*h, s)
		}
	}
	return nil
}

func main() {
	var hosts hostList
	dir := flag.String("dir", "./var/certs", "directory for the PEM files (created 0700)")
	keyAlg := flag.String("key-alg", certs.KeyECDSAP256, "key algorithm for new keys: "+certs.KeyECDSAP256+" or "+certs.KeyRSA2048)
	flag.Var(&hosts, "host", "extra server certificate SAN, DNS name or IP address (repeatable, or comma-separated)")
	flag.Parse()

	paths, err := certs.EnsureDev(*dir, certs.DevOptions{Hosts: hosts, KeyAlgorithm: *keyAlg})
	if err != nil {
		fmt.Fprintln(os.Stderr, "generate_dev:", err)
		os.Exit(1)
	}
	if len(paths.Created) == 0 {
		fmt.Printf("reused the valid development PKI in %s\n", paths.Dir)
	} else {
		fmt.Printf("wrote %s in %s\n", strings.Join(paths.Created, ", "), paths.Dir)
	}
	fmt.Printf("CA:     %s\nserver: %s (key %s)\nclient: %s (key %s)\n",
		paths.CACert, paths.ServerCert, paths.ServerKey, paths.ClientCert, paths.ClientKey)
}
