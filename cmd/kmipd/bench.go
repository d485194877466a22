package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/kmipclient"
)

// `kmipd bench` is kmipd's own load generator. It speaks plain KMIP
// through kmipclient, so it measures any KMIP server (kmipd, PyKMIP, ...):
// an operation the server lacks is reported as unsupported and skipped.
//
// For each operation and connection count, N connections, one worker each,
// drive the server for --duration; every latency goes into a fixed-size
// histogram per worker, merged at the end. Bounds: each cell stops at its
// duration or after --max-requests requests, whichever comes first, and
// bench connects to --addr only.

// benchOpNames lists the operations in the order they are measured.
var benchOpNames = []string{"create", "get", "locate", "encrypt-64", "encrypt-4k", "decrypt-64", "decrypt-4k", "sign-p256"}

// defaultLocateKeys is how many named keys the locate warm-up creates
// unless --locate-keys says otherwise; maxLocateKeys bounds the flag.
const (
	defaultLocateKeys = 100
	maxLocateKeys     = 1_000_000
)

// maxSetupConns bounds the connections that create and destroy the
// prepared keys in parallel.
const maxSetupConns = 16

// Bounds on the flags, so that a typo cannot start a day-long run or
// thousands of connections.
const (
	maxBenchConnections = 1024
	maxConnectionCounts = 16
	minBenchDuration    = 100 * time.Millisecond
	maxBenchDuration    = time.Hour
	maxBenchReps        = 100
)

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "measure a KMIP server: ops/s and latency percentiles per operation and connection count",
		Description: "For each operation and connection count, that many connections drive the server for --duration.\n" +
			"Before measuring, bench prepares what an operation needs: an activated AES-256 key (get, encrypt,\n" +
			"decrypt), --locate-keys named keys (locate), an activated P-256 key pair (sign). Unless --keep, it\n" +
			"revokes and destroys every key it created at the end. Operations the server does not support are\n" +
			"reported and skipped. bench connects to --addr only and stops each measurement at --duration or\n" +
			"--max-requests requests.\n\n" +
			"Operations: " + strings.Join(benchOpNames, ", "),
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:5696", Usage: "`HOST:PORT` of the server to measure"},
			&cli.StringFlag{Name: "ca", Required: true, Usage: "CA certificate (PEM) that signed the server's certificate"},
			&cli.StringFlag{Name: "cert", Required: true, Usage: "client certificate (PEM)"},
			&cli.StringFlag{Name: "key", Required: true, Usage: "client private key (PEM)"},
			&cli.StringFlag{Name: "server-name", Usage: "name to verify in the server certificate (default: the host of --addr)"},
			&cli.StringFlag{Name: "connections", Value: "1,4,16", Usage: "comma-separated connection counts"},
			&cli.DurationFlag{Name: "duration", Value: 10 * time.Second, Usage: "measuring time per operation and connection count"},
			&cli.IntFlag{Name: "reps", Value: 1, Usage: "measure each operation and connection count `N` times and report the median run, with the range of ops/s, so that one noisy window does not decide the figure"},
			&cli.IntFlag{Name: "locate-keys", Value: defaultLocateKeys, Usage: "named keys to create before measuring locate, each located by its name in turn: the store the server searches holds at least `N` objects"},
			&cli.StringFlag{Name: "ops", Value: strings.Join(benchOpNames, ","), Usage: "comma-separated operations to measure"},
			&cli.BoolFlag{Name: "json", Usage: "print the results as JSON"},
			&cli.StringFlag{Name: "version", Value: "1.4", Usage: "KMIP protocol version of the requests"},
			&cli.Int64Flag{Name: "max-requests", Value: 1_000_000, Usage: "upper bound on requests per operation and connection count"},
			&cli.BoolFlag{Name: "keep", Usage: "keep the keys bench creates"},
			&cli.StringFlag{Name: "cpu-profile", Usage: "write bench's own CPU profile (go tool pprof) to `FILE`, to check that the load generator is not the bottleneck"},
		},
		Action: func(c *cli.Context) error {
			cfg, err := benchConfigFrom(c)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(c.Context, syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			if path := c.String("cpu-profile"); path != "" {
				stopProfile, err := startCPUProfile(path)
				if err != nil {
					return fail(err, "--cpu-profile names a file to create")
				}
				defer stopProfile()
			}
			rep, err := runBench(ctx, cfg)
			if rep != nil {
				if c.Bool("json") {
					enc := json.NewEncoder(c.App.Writer)
					enc.SetIndent("", "  ")
					if jerr := enc.Encode(rep); jerr != nil && err == nil {
						err = jerr
					}
				} else {
					printBenchTable(c.App.Writer, rep)
				}
			}
			if err != nil {
				return fail(err, "is a KMIP server listening on --addr, and do --ca, --cert and --key match it?")
			}
			return nil
		},
	}
}

// startCPUProfile profiles this process into path until the returned
// function is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path) //nolint:gosec // G304: the operator names the file on the command line
	if err != nil {
		return nil, fmt.Errorf("bench: --cpu-profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("bench: --cpu-profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close() // the profile is best effort; the results are printed either way
	}, nil
}

// benchConfig is the validated command line.
type benchConfig struct {
	addr        string
	tls         *tls.Config
	version     kmip.ProtocolVersion
	conns       []int
	duration    time.Duration
	reps        int
	locateKeys  int
	ops         []string
	maxRequests int64
	keep        bool
	progress    io.Writer
}

func benchConfigFrom(c *cli.Context) (*benchConfig, error) {
	cfg := &benchConfig{
		addr:        c.String("addr"),
		duration:    c.Duration("duration"),
		reps:        c.Int("reps"),
		locateKeys:  c.Int("locate-keys"),
		maxRequests: c.Int64("max-requests"),
		keep:        c.Bool("keep"),
		progress:    c.App.ErrWriter,
	}
	if cfg.progress == nil {
		cfg.progress = os.Stderr
	}
	if _, _, err := net.SplitHostPort(cfg.addr); err != nil {
		return nil, fail(fmt.Errorf("bench: --addr %q: %w", cfg.addr, err), "give HOST:PORT, e.g. 127.0.0.1:5696")
	}
	var err error
	if cfg.version, err = parseBenchVersion(c.String("version")); err != nil {
		return nil, fail(err, "one of 1.0, 1.1, 1.2, 1.3, 1.4, 2.0, 2.1")
	}
	if cfg.conns, err = parseConnections(c.String("connections")); err != nil {
		return nil, fail(err, "e.g. --connections 1,4,16")
	}
	if cfg.ops, err = parseBenchOps(c.String("ops")); err != nil {
		return nil, fail(err, "operations: "+strings.Join(benchOpNames, ","))
	}
	if cfg.duration < minBenchDuration || cfg.duration > maxBenchDuration {
		return nil, fail(fmt.Errorf("bench: --duration %v out of range", cfg.duration), fmt.Sprintf("between %v and %v", minBenchDuration, maxBenchDuration))
	}
	if cfg.reps < 1 || cfg.reps > maxBenchReps {
		return nil, fail(fmt.Errorf("bench: --reps %d out of range", cfg.reps), fmt.Sprintf("between 1 and %d", maxBenchReps))
	}
	if cfg.locateKeys < 1 || cfg.locateKeys > maxLocateKeys {
		return nil, fail(fmt.Errorf("bench: --locate-keys %d out of range", cfg.locateKeys), fmt.Sprintf("between 1 and %d", maxLocateKeys))
	}
	if cfg.maxRequests < 1 {
		return nil, fail(fmt.Errorf("bench: --max-requests %d out of range", cfg.maxRequests), "at least 1")
	}
	if cfg.tls, err = benchTLSConfig(c.String("ca"), c.String("cert"), c.String("key"), c.String("server-name")); err != nil {
		return nil, fail(err, "--ca is the PEM CA of the server; --cert and --key the client's PEM certificate and key (kmipd dev prints them)")
	}
	return cfg, nil
}

func parseBenchVersion(s string) (kmip.ProtocolVersion, error) {
	maj, minr, ok := strings.Cut(strings.TrimSpace(s), ".")
	a, err1 := strconv.ParseInt(maj, 10, 32)
	b, err2 := strconv.ParseInt(minr, 10, 32)
	if ok && err1 == nil && err2 == nil {
		v := kmip.ProtocolVersion{Major: int32(a), Minor: int32(b)}
		if slices.Contains(kmip.SupportedVersions, v) {
			return v, nil
		}
	}
	return kmip.ProtocolVersion{}, fmt.Errorf("bench: --version %q is not a KMIP version", s)
}

func parseConnections(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > maxBenchConnections {
			return nil, fmt.Errorf("bench: --connections: %q is not a count from 1 to %d", f, maxBenchConnections)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	if len(out) > maxConnectionCounts {
		return nil, fmt.Errorf("bench: --connections: %d counts, at most %d", len(out), maxConnectionCounts)
	}
	return out, nil
}

func parseBenchOps(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(benchOpNames, f) {
			return nil, fmt.Errorf("bench: --ops: unknown operation %q", f)
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	// Measure in the canonical order, whatever the order given.
	slices.SortFunc(out, func(a, b string) int {
		return slices.Index(benchOpNames, a) - slices.Index(benchOpNames, b)
	})
	return out, nil
}

func benchTLSConfig(caFile, certFile, keyFile, serverName string) (*tls.Config, error) {
	pem, err := os.ReadFile(caFile) //nolint:gosec // G304: the operator names the file on the command line
	if err != nil {
		return nil, fmt.Errorf("bench: --ca: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("bench: --ca %s: no PEM certificate found", caFile)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("bench: --cert %s / --key %s: %w", certFile, keyFile, err)
	}
	// KMIP 1.4 §8 and the profiles' TLS suites: the same list the server
	// offers, so that RSA-certificate servers limited to the profile
	// suites (PyKMIP) are reachable too.
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		CipherSuites: kmipCipherSuites,
		RootCAs:      roots,
		Certificates: []tls.Certificate{cert},
		ServerName:   serverName,
	}, nil
}

// benchReport is what bench prints, as a table or as JSON.
type benchReport struct {
	Addr     string        `json:"addr"`
	Version  string        `json:"version"`
	Duration string        `json:"duration"`
	Reps     int           `json:"reps"`
	Results  []benchResult `json:"results"`
}

// benchResult is one operation at one connection count, or one
// unsupported operation (Connections 0).
type benchResult struct {
	Op          string  `json:"op"`
	Connections int     `json:"connections"`
	Requests    int64   `json:"requests"` // successful
	Errors      int64   `json:"errors"`
	Seconds     float64 `json:"seconds"`
	OpsPerSec   float64 `json:"ops_per_sec"`
	P50Micros   float64 `json:"p50_us"`
	P90Micros   float64 `json:"p90_us"`
	P99Micros   float64 `json:"p99_us"`
	// With --reps above 1: the result is the run with the median ops/s
	// (the lower middle one for an even count), Errors and Capped cover
	// every run, and these give the range of ops/s over the runs.
	MinOpsPerSec float64 `json:"min_ops_per_sec,omitempty"`
	MaxOpsPerSec float64 `json:"max_ops_per_sec,omitempty"`
	// Capped: --max-requests ended the measurement before --duration.
	Capped      bool   `json:"capped,omitempty"`
	Unsupported string `json:"unsupported,omitempty"`
	FirstError  string `json:"first_error,omitempty"`
}

// benchOp is one measurable operation.
type benchOp struct {
	name string
	// prepare readies what run needs, on the setup connection.
	prepare func(ctx context.Context, b *bencher) error
	// run performs one request.
	run func(ctx context.Context, c *kmipclient.Conn, w *benchWorker) error
}

func benchOps() map[string]benchOp {
	encrypt := func(size int) benchOp {
		return benchOp{
			name:    fmt.Sprintf("encrypt-%s", sizeName(size)),
			prepare: func(ctx context.Context, b *bencher) error { return b.prepareAES(ctx) },
			run: func(ctx context.Context, c *kmipclient.Conn, w *benchWorker) error {
				_, err := c.Encrypt(ctx, w.b.aesID, w.b.plaintext[size], nil)
				return err
			},
		}
	}
	decrypt := func(size int) benchOp {
		return benchOp{
			name:    fmt.Sprintf("decrypt-%s", sizeName(size)),
			prepare: func(ctx context.Context, b *bencher) error { return b.prepareCiphertext(ctx, size) },
			run: func(ctx context.Context, c *kmipclient.Conn, w *benchWorker) error {
				pt, err := c.Decrypt(ctx, w.b.aesID, w.b.ciphertext[size])
				clear(pt)
				return err
			},
		}
	}
	ops := []benchOp{
		{
			name:    "create",
			prepare: func(context.Context, *bencher) error { return nil },
			run: func(ctx context.Context, c *kmipclient.Conn, w *benchWorker) error {
				id, err := c.CreateAES(ctx, 256, "")
				if err == nil {
					w.created = append(w.created, id)
				}
				return err
			},
		},
		{
			name:    "get",
			prepare: func(ctx context.Context, b *bencher) error { return b.prepareAES(ctx) },
			run: func(ctx context.Context, c *kmipclient.Conn, w *benchWorker) error {
				o, err := c.Get(ctx, w.b.aesID)
				o.Clear()
				return err
			},
		},
		{
			name:    "locate",
			prepare: func(ctx context.Context, b *bencher) error { return b.prepareNames(ctx) },
			run: func(ctx context.Context, c *kmipclient.Conn, w *benchWorker) error {
				w.i++
				ids, err := c.LocateByName(ctx, w.b.names[w.i%len(w.b.names)])
				if err == nil && len(ids) == 0 {
					err = errors.New("locate found no key")
				}
				return err
			},
		},
		encrypt(64), encrypt(4096), decrypt(64), decrypt(4096),
		{
			name:    "sign-p256",
			prepare: func(ctx context.Context, b *bencher) error { return b.prepareEC(ctx) },
			run: func(ctx context.Context, c *kmipclient.Conn, w *benchWorker) error {
				_, err := c.Sign(ctx, w.b.signID, w.b.plaintext[32])
				return err
			},
		},
	}
	m := make(map[string]benchOp, len(ops))
	for _, op := range ops {
		m[op.name] = op
	}
	return m
}

func sizeName(n int) string {
	if n%1024 == 0 {
		return strconv.Itoa(n/1024) + "k"
	}
	return strconv.Itoa(n)
}

// bencher holds one run's connections and prepared objects.
type bencher struct {
	cfg    *benchConfig
	conns  []*kmipclient.Conn
	prefix string // names of this run's keys

	prepared map[string]error // memoised preparations
	aesID    string
	names    []string
	signID   string
	// plaintext by size (32 for sign, 64 and 4096 for encrypt).
	plaintext  map[int][]byte
	ciphertext map[int]kmipclient.Ciphertext
	// cleanup lists what to revoke (when activated) and destroy.
	cleanup []benchKey
}

type benchKey struct {
	id     string
	active bool
}

// once memoises a preparation step by name.
func (b *bencher) once(name string, f func() error) error {
	if err, ok := b.prepared[name]; ok {
		return err
	}
	err := f()
	b.prepared[name] = err
	return err
}

func (b *bencher) setup() *kmipclient.Conn { return b.conns[0] }

func (b *bencher) prepareAES(ctx context.Context) error {
	return b.once("aes", func() error {
		id, err := b.setup().CreateAES(ctx, 256, b.prefix+"-aes")
		if err != nil {
			return err
		}
		b.cleanup = append(b.cleanup, benchKey{id: id})
		if err := b.setup().Activate(ctx, id); err != nil {
			return err
		}
		b.cleanup[len(b.cleanup)-1].active = true
		b.aesID = id
		return nil
	})
}

func (b *bencher) prepareCiphertext(ctx context.Context, size int) error {
	return b.once("ciphertext-"+strconv.Itoa(size), func() error {
		if err := b.prepareAES(ctx); err != nil {
			return err
		}
		ct, err := b.setup().Encrypt(ctx, b.aesID, b.plaintext[size], nil)
		if err != nil {
			return err
		}
		b.ciphertext[size] = ct
		return nil
	})
}

func (b *bencher) prepareNames(ctx context.Context) error {
	return b.once("names", func() error {
		n := b.cfg.locateKeys
		fmt.Fprintf(b.cfg.progress, "bench: creating %d named keys for locate\n", n)
		conns := min(n, maxSetupConns)
		if err := b.ensureConns(ctx, conns); err != nil {
			return err
		}
		names := make([]string, n)
		ids := make([]string, n)
		errs := make([]error, conns)
		var wg sync.WaitGroup
		for i := range conns {
			wg.Go(func() {
				for j := i; j < n && ctx.Err() == nil; j += conns {
					names[j] = fmt.Sprintf("%s-locate-%06d", b.prefix, j)
					id, err := b.conns[i].CreateAES(ctx, 256, names[j])
					if err != nil {
						errs[i] = err
						return
					}
					ids[j] = id
				}
			})
		}
		wg.Wait()
		// Whatever was created is cleaned up, even if the rest failed.
		for _, id := range ids {
			if id != "" {
				b.cleanup = append(b.cleanup, benchKey{id: id})
			}
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		b.names = names
		return nil
	})
}

func (b *bencher) prepareEC(ctx context.Context) error {
	return b.once("ec", func() error {
		priv, pub, err := b.setup().CreateKeyPairEC(ctx, kmip.RecommendedCurveP256)
		if err != nil {
			return err
		}
		b.cleanup = append(b.cleanup, benchKey{id: pub}, benchKey{id: priv})
		if err := b.setup().Activate(ctx, priv); err != nil {
			return err
		}
		b.cleanup[len(b.cleanup)-1].active = true
		b.signID = priv
		return nil
	})
}

// ensureConns opens connections up to n and replaces broken ones.
func (b *bencher) ensureConns(ctx context.Context, n int) error {
	for len(b.conns) < n {
		b.conns = append(b.conns, nil)
	}
	for i := range n {
		if b.conns[i] != nil && b.conns[i].Err() == nil {
			continue
		}
		if b.conns[i] != nil {
			_ = b.conns[i].Close()
		}
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := kmipclient.Dial(dctx, b.cfg.addr, b.cfg.tls, kmipclient.Options{Version: b.cfg.version})
		cancel()
		if err != nil {
			b.conns[i] = nil
			return fmt.Errorf("bench: %w", err)
		}
		b.conns[i] = c
	}
	return nil
}

func (b *bencher) close() {
	for _, c := range b.conns {
		if c != nil {
			_ = c.Close()
		}
	}
	for _, ct := range b.ciphertext {
		clear(ct.Data)
	}
}

// runBench measures every operation at every connection count. It returns
// what it measured even when it stops early on an error or a signal.
func runBench(ctx context.Context, cfg *benchConfig) (*benchReport, error) {
	rep := &benchReport{Addr: cfg.addr, Version: cfg.version.String(), Duration: cfg.duration.String(), Reps: cfg.reps}
	var tag [6]byte
	if _, err := rand.Read(tag[:]); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	b := &bencher{
		cfg:        cfg,
		prefix:     "kmipd-bench-" + hex.EncodeToString(tag[:]),
		prepared:   map[string]error{},
		plaintext:  map[int][]byte{},
		ciphertext: map[int]kmipclient.Ciphertext{},
	}
	defer b.close()
	for _, n := range []int{32, 64, 4096} {
		p := make([]byte, n)
		_, _ = rand.Read(p)
		b.plaintext[n] = p
	}
	if err := b.ensureConns(ctx, 1); err != nil {
		return nil, err
	}
	defer b.cleanupKeys(ctx)

	ops := benchOps()
	for _, name := range cfg.ops {
		op := ops[name]
		if err := b.ensureConns(ctx, 1); err != nil {
			return rep, err
		}
		reason, err := b.check(ctx, op)
		if err != nil {
			return rep, err
		}
		if reason != "" {
			fmt.Fprintf(cfg.progress, "bench: %s: unsupported (%s); skipped\n", name, reason)
			rep.Results = append(rep.Results, benchResult{Op: name, Unsupported: reason})
			continue
		}
		for _, n := range cfg.conns {
			if ctx.Err() != nil {
				return rep, fmt.Errorf("bench: %w", ctx.Err())
			}
			if err := b.ensureConns(ctx, n); err != nil {
				return rep, err
			}
			runs := make([]benchResult, 0, cfg.reps)
			for r := 1; r <= cfg.reps; r++ {
				if r > 1 && ctx.Err() != nil {
					break
				}
				fmt.Fprintf(cfg.progress, "bench: %s with %d connection(s) for %v%s\n", name, n, cfg.duration, repNote(r, cfg.reps))
				res, created := b.measure(ctx, op, n)
				runs = append(runs, res)
				if len(created) > 0 && !cfg.keep {
					b.destroyAll(ctx, created, n)
				}
			}
			rep.Results = append(rep.Results, medianRun(runs))
		}
	}
	return rep, nil
}

func repNote(r, reps int) string {
	if reps == 1 {
		return ""
	}
	return fmt.Sprintf(" (run %d of %d)", r, reps)
}

// medianRun folds the runs of one operation and connection count into one
// result: the run with the median ops/s, with the errors of all runs and
// the range of their ops/s (see benchResult).
func medianRun(runs []benchResult) benchResult {
	if len(runs) == 1 {
		return runs[0]
	}
	sorted := slices.Clone(runs)
	slices.SortStableFunc(sorted, func(a, b benchResult) int { return cmp.Compare(a.OpsPerSec, b.OpsPerSec) })
	out := sorted[(len(sorted)-1)/2]
	out.MinOpsPerSec, out.MaxOpsPerSec = sorted[0].OpsPerSec, sorted[len(sorted)-1].OpsPerSec
	out.Errors, out.FirstError, out.Capped = 0, "", false
	for _, r := range runs {
		out.Errors += r.Errors
		out.Capped = out.Capped || r.Capped
		if out.FirstError == "" {
			out.FirstError = r.FirstError
		}
	}
	return out
}

// check prepares op and runs it once, untimed. A failure the server
// answered means it does not support what op needs: the reason is
// returned and op is skipped. A transport failure ends the run.
func (b *bencher) check(ctx context.Context, op benchOp) (reason string, err error) {
	err = op.prepare(ctx, b)
	if err == nil {
		w := &benchWorker{b: b}
		err = op.run(ctx, b.setup(), w)
		if len(w.created) > 0 && !b.cfg.keep {
			b.destroyAll(ctx, w.created, 1)
		}
	}
	switch {
	case err == nil:
		return "", nil
	case b.setup().Err() != nil || ctx.Err() != nil:
		return "", fmt.Errorf("bench: %s: %w", op.name, err)
	default:
		// The server answered, but not with what op needs: a failed
		// item (Operation Not Supported, a refused parameter, ...) or
		// an answer bench cannot use.
		return strings.TrimPrefix(err.Error(), "kmipclient: "), nil
	}
}

// benchWorker is one connection's share of a measurement.
type benchWorker struct {
	b        *bencher
	hist     histogram
	n, errs  int64
	firstErr error
	created  []string
	i        int
	end      time.Time
}

// measure runs op on n connections for the configured duration and
// returns the result and the IDs of the keys the run created.
func (b *bencher) measure(ctx context.Context, op benchOp, n int) (benchResult, []string) {
	workers := make([]*benchWorker, n)
	var budget atomic.Int64
	budget.Store(b.cfg.maxRequests)
	var capped atomic.Bool
	start := time.Now()
	deadline := start.Add(b.cfg.duration)
	var wg sync.WaitGroup
	for i := range workers {
		w := &benchWorker{b: b}
		workers[i] = w
		c := b.conns[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The first request always runs, so that every cell measures
			// something however slow the server.
			for {
				if budget.Add(-1) < 0 {
					capped.Store(true)
					break
				}
				t0 := time.Now()
				err := op.run(ctx, c, w)
				t1 := time.Now()
				if err != nil {
					w.errs++
					if w.firstErr == nil {
						w.firstErr = err
					}
					if c.Err() != nil || ctx.Err() != nil {
						break // the connection is gone, or bench is stopping
					}
				} else {
					w.hist.record(t1.Sub(t0))
					w.n++
				}
				if t1.After(deadline) || ctx.Err() != nil {
					break
				}
			}
			w.end = time.Now()
		}()
	}
	wg.Wait()

	res := benchResult{Op: op.name, Connections: n, Capped: capped.Load()}
	var all histogram
	var end time.Time
	var created []string
	for _, w := range workers {
		all.merge(&w.hist)
		res.Requests += w.n
		res.Errors += w.errs
		if w.firstErr != nil && res.FirstError == "" {
			res.FirstError = w.firstErr.Error()
		}
		if w.end.After(end) {
			end = w.end
		}
		created = append(created, w.created...)
	}
	elapsed := end.Sub(start)
	res.Seconds = round3(elapsed.Seconds())
	if elapsed > 0 {
		res.OpsPerSec = round3(float64(res.Requests) / elapsed.Seconds())
	}
	micros := func(q float64) float64 { return round3(float64(all.quantile(q)) / 1e3) }
	res.P50Micros, res.P90Micros, res.P99Micros = micros(0.50), micros(0.90), micros(0.99)
	return res, created
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// destroyAll destroys ids (Pre-Active keys) over n connections, untimed.
func (b *bencher) destroyAll(ctx context.Context, ids []string, n int) {
	if ctx.Err() != nil {
		// Stopping on a signal: still clean up, within a bound.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
	}
	if err := b.ensureConns(ctx, n); err != nil {
		fmt.Fprintf(b.cfg.progress, "bench: cleanup: %v\n", err)
		return
	}
	fmt.Fprintf(b.cfg.progress, "bench: destroying %d key(s) created by the run\n", len(ids))
	var failed atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := i; j < len(ids); j += n {
				if err := b.conns[i].Destroy(ctx, ids[j]); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		fmt.Fprintf(b.cfg.progress, "bench: cleanup: %d key(s) could not be destroyed\n", f)
	}
}

// cleanupKeys revokes and destroys the prepared keys, unless --keep.
func (b *bencher) cleanupKeys(ctx context.Context) {
	if b.cfg.keep || len(b.cleanup) == 0 {
		return
	}
	// A minute, and more for a large --locate-keys on a slow server.
	budget := time.Minute + time.Duration(len(b.cleanup))*10*time.Millisecond
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), budget)
	defer cancel()
	var ids []string
	for _, k := range b.cleanup {
		if k.active {
			// An Active key cannot be destroyed (KMIP 1.4 §4.21): revoke
			// it first.
			if err := b.ensureConns(ctx, 1); err == nil {
				_ = b.setup().Revoke(ctx, k.id, kmip.RevocationReasonCodeCessationOfOperation)
			}
		}
		ids = append(ids, k.id)
	}
	b.destroyAll(ctx, ids, min(len(ids), maxSetupConns))
}

func printBenchTable(w io.Writer, rep *benchReport) {
	ranges := rep.Reps > 1
	if ranges {
		fmt.Fprintf(w, "kmipd bench: %s, KMIP %s, %s per measurement, median of %d runs\n\n", rep.Addr, rep.Version, rep.Duration, rep.Reps)
	} else {
		fmt.Fprintf(w, "kmipd bench: %s, KMIP %s, %s per measurement\n\n", rep.Addr, rep.Version, rep.Duration)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if ranges {
		fmt.Fprintf(tw, "OPERATION\tCONNS\tOPS/S\tMIN..MAX\tP50\tP90\tP99\tERRORS\tNOTE\n")
	} else {
		fmt.Fprintf(tw, "OPERATION\tCONNS\tOPS/S\tP50\tP90\tP99\tERRORS\tNOTE\n")
	}
	var notes []string
	for _, r := range rep.Results {
		if r.Unsupported != "" {
			if ranges {
				fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\t-\tunsupported\n", r.Op)
			} else {
				fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\tunsupported\n", r.Op)
			}
			notes = append(notes, fmt.Sprintf("%s: unsupported: %s", r.Op, r.Unsupported))
			continue
		}
		note := ""
		if r.Capped {
			note = "stopped by --max-requests"
		}
		spread := ""
		if ranges {
			spread = fmt.Sprintf("%.0f..%.0f\t", r.MinOpsPerSec, r.MaxOpsPerSec)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%s%s\t%s\t%s\t%d\t%s\n", r.Op, r.Connections, r.OpsPerSec, spread,
			fmtMicros(r.P50Micros), fmtMicros(r.P90Micros), fmtMicros(r.P99Micros), r.Errors, note)
		if r.FirstError != "" {
			notes = append(notes, fmt.Sprintf("%s/%d: first error: %s", r.Op, r.Connections, r.FirstError))
		}
	}
	_ = tw.Flush()
	if len(notes) > 0 {
		fmt.Fprintf(w, "\n%s\n", strings.Join(notes, "\n"))
	}
}

func fmtMicros(us float64) string {
	switch {
	case us < 1000:
		return fmt.Sprintf("%.0fµs", us)
	case us < 1e6:
		return fmt.Sprintf("%.2fms", us/1e3)
	default:
		return fmt.Sprintf("%.2fs", us/1e6)
	}
}

// histogram records latencies in log-linear buckets, like HdrHistogram:
// values below 2^histSubBits ns exactly, larger ones in 2^histSubBits
// sub-buckets per power of two, so every bucket is within 1/64 (1.6%) of
// its values. It is a fixed array: recording allocates nothing.
type histogram struct {
	counts   [histBuckets]uint64
	n        uint64
	min, max int64 // ns
}

const (
	histSubBits = 6
	histSub     = 1 << histSubBits
	// histMaxExp: values up to 2^histMaxExp ns (about 18 minutes); larger
	// ones count in the last bucket.
	histMaxExp  = 40
	histBuckets = (histMaxExp - histSubBits + 1) * histSub
)

func histIndex(v int64) int {
	if v < histSub {
		return int(max(v, 0))
	}
	if v >= 1<<histMaxExp {
		return histBuckets - 1
	}
	exp := bits.Len64(uint64(v)) - 1 // >= histSubBits
	shift := exp - histSubBits
	return (shift+1)*histSub + int(v>>shift) - histSub
}

// histBounds returns the smallest value of bucket i and the bucket's width.
func histBounds(i int) (low, width int64) {
	if i < 2*histSub {
		return int64(i), 1
	}
	shift := i/histSub - 1
	return int64(i%histSub+histSub) << shift, 1 << shift
}

func (h *histogram) record(d time.Duration) {
	v := int64(d)
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.counts[histIndex(v)]++
	h.n++
}

func (h *histogram) merge(o *histogram) {
	if o.n == 0 {
		return
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	for i, c := range o.counts {
		h.counts[i] += c
	}
}

// quantile returns the value below which a fraction q of the recorded
// values fall: the middle of the bucket holding that rank, kept within the
// observed minimum and maximum; q 0 and 1 give the exact minimum and
// maximum. Zero when nothing was recorded.
func (h *histogram) quantile(q float64) time.Duration {
	switch {
	case h.n == 0:
		return 0
	case q <= 0:
		return time.Duration(h.min)
	case q >= 1:
		return time.Duration(h.max)
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			low, width := histBounds(i)
			v := low + (width-1)/2
			return time.Duration(min(max(v, h.min), h.max))
		}
	}
	return time.Duration(h.max)
}
