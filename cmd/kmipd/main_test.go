package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kmipd/kmipd/hsmbackend"
)

// The CLI tests run kmipd as a program: this test binary re-executes
// itself with KMIPD_TEST_RUN_MAIN=1, and TestMain then runs main() instead
// of the tests. That is the real binary (same main, same flags, same exit
// codes and signal handling) without a `go build` per test run, and under
// `go test -race` it is race-checked too.
const runMainEnv = "KMIPD_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// kmipdEnv is the environment of a kmipd child: ours without any KMIPD_*
// setting or SoftHSM configuration of the developer's, plus extra.
func kmipdEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "KMIPD_") || strings.HasPrefix(kv, "SOFTHSM2_CONF=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, runMainEnv+"=1")
	return append(env, extra...)
}

func kmipdCommand(t *testing.T, env []string, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = kmipdEnv(env...)
	return cmd
}

// runKmipdBinary runs kmipd to completion and returns its output and exit
// code.
func runKmipdBinary(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := kmipdCommand(t, env, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			code = ee.ExitCode()
		case err != nil:
			t.Fatal(err)
		}
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("kmipd %v did not finish (killed: %v)\nstdout:\n%s\nstderr:\n%s", args, <-done, out.String(), errOut.String())
	}
	return out.String(), errOut.String(), code
}

// kmipdProcess is a long-running kmipd (serve or dev).
type kmipdProcess struct {
	t    *testing.T
	cmd  *exec.Cmd
	done chan error // Wait's result, sent once; taken by stop
	// exited is set, on the test's goroutine, once done was taken.
	exited bool

	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
	waits  []*lineWait
}

// lineWait is a pending wait for an output line matching re.
type lineWait struct {
	re *regexp.Regexp
	ch chan []string
}

// startKmipd starts kmipd; the cleanup kills it if the test did not stop
// it.
func startKmipd(t *testing.T, env []string, args ...string) *kmipdProcess {
	t.Helper()
	p := &kmipdProcess{t: t, cmd: kmipdCommand(t, env, args...), done: make(chan error, 1)}
	outPipe, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errPipe, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go p.scan(outPipe, &p.stdout, &wg)
	go p.scan(errPipe, &p.stderr, &wg)
	go func() {
		wg.Wait()
		p.done <- p.cmd.Wait()
	}()
	t.Cleanup(func() {
		if !p.exited {
			_ = p.cmd.Process.Kill()
			t.Logf("kmipd killed at cleanup: %v", <-p.done)
		}
	})
	return p
}

func (p *kmipdProcess) scan(r io.Reader, buf *bytes.Buffer, wg *sync.WaitGroup) {
	defer wg.Done()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		buf.WriteString(line + "\n")
		kept := p.waits[:0]
		for _, w := range p.waits {
			if m := w.re.FindStringSubmatch(line); m != nil {
				w.ch <- m
				continue
			}
			kept = append(kept, w)
		}
		p.waits = kept
		p.mu.Unlock()
	}
}

// output returns what kmipd printed so far.
func (p *kmipdProcess) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return "stdout:\n" + p.stdout.String() + "stderr:\n" + p.stderr.String()
}

// expect starts watching for an output line (stdout or stderr) matching
// re, among lines not yet printed, and returns the wait for it: call
// expect before the action that causes the line.
func (p *kmipdProcess) expect(re *regexp.Regexp) func(time.Duration) []string {
	w := &lineWait{re: re, ch: make(chan []string, 1)}
	p.mu.Lock()
	p.waits = append(p.waits, w)
	p.mu.Unlock()
	return func(d time.Duration) []string {
		p.t.Helper()
		select {
		case m := <-w.ch:
			return m
		case err := <-p.done:
			p.done <- err
			p.t.Fatalf("kmipd exited (%v) before printing %q\n%s", err, re, p.output())
		case <-time.After(d):
			p.t.Fatalf("kmipd did not print %q within %v\n%s", re, d, p.output())
		}
		return nil
	}
}

// waitFor waits for an output line matching re, printed or to come.
func (p *kmipdProcess) waitFor(re *regexp.Regexp, d time.Duration) []string {
	p.t.Helper()
	return p.waitForOutput(re, d)
}

// waitForOutput returns the submatches of the first output line matching
// re, waiting up to d for it.
func (p *kmipdProcess) waitForOutput(re *regexp.Regexp, d time.Duration) []string {
	p.t.Helper()
	wait := p.expect(re)
	p.mu.Lock()
	for _, s := range []string{p.stdout.String(), p.stderr.String()} {
		for _, line := range strings.Split(s, "\n") {
			if m := re.FindStringSubmatch(line); m != nil {
				p.mu.Unlock()
				return m
			}
		}
	}
	p.mu.Unlock()
	return wait(d)
}

// stop sends sig and waits for a clean exit (code 0).
func (p *kmipdProcess) stop(sig syscall.Signal, d time.Duration) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
	select {
	case err := <-p.done:
		p.exited = true
		if err != nil {
			p.t.Errorf("kmipd exited with %v after %v\n%s", err, sig, p.output())
		}
	case <-time.After(d):
		_ = p.cmd.Process.Kill()
		err := <-p.done
		p.exited = true
		p.t.Fatalf("kmipd did not exit within %v of %v (killed: %v)\n%s", d, sig, err, p.output())
	}
}

// softHSMModule returns the SoftHSM library, skipping the test without it
// unless KMIPD_REQUIRE_HSM=1 (make test), which makes it fail instead.
func softHSMModule(t *testing.T) string {
	t.Helper()
	if m := os.Getenv("KMIPD_TEST_PKCS11_MODULE"); m != "" {
		return m
	}
	m, err := hsmbackend.FindSoftHSMModule()
	if err != nil {
		if os.Getenv("KMIPD_REQUIRE_HSM") == "1" {
			t.Fatalf("SoftHSM is required (KMIPD_REQUIRE_HSM=1): %v", err)
		}
		t.Skipf("SoftHSM not available: %v", err)
	}
	return m
}

func TestVersionCommand(t *testing.T) {
	stdout, stderr, code := runKmipdBinary(t, nil, "version")
	if code != 0 || stdout != "kmipd 0.1.0-dev\n" && !strings.HasPrefix(stdout, "kmipd ") || stderr != "" {
		t.Errorf("kmipd version: code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if strings.Count(stdout, "\n") != 1 {
		t.Errorf("kmipd version printed %q; want one line", stdout)
	}
}

// TestCLIErrors: every failure is one line on stderr, "kmipd: what failed
// — hint", and exit code 1; never a usage dump or a stack trace.
func TestCLIErrors(t *testing.T) {
	dir := t.TempDir()
	conf := func(name, body string) string {
		path := dir + "/" + name
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	unknownKey := conf("unknown.conf", "# kmipd\nlisten = 127.0.0.1:5696\nlisen = 127.0.0.1:1\n")
	pinKey := conf("pin.conf", "pkcs11-pin = 1234\n")
	badValue := conf("bad.conf", "\n\nread-timeout = soon\n")
	tests := []struct {
		name string
		args []string
		env  []string
		want []string // substrings of the one line
	}{
		{name: "unknown command", args: []string{"serv"}, want: []string{`unknown command "serv"`, "kmipd --help"}},
		{name: "unknown flag", args: []string{"serve", "--lissten", "x"}, want: []string{"flag provided but not defined: -lissten", "kmipd serve --help"}},
		{name: "unknown global flag", args: []string{"--verbose"}, want: []string{"-verbose", "kmipd --help"}},
		{name: "subcommand flag", args: []string{"config", "check", "--nope"}, want: []string{"-nope", "kmipd config check --help"}},
		{name: "missing required flag", args: []string{"audit", "verify"}, want: []string{`audit verify: Required flags "log, key-file" not set`, "kmipd audit verify --help"}},
		{name: "missing one required flag", args: []string{"audit", "verify", "--log", "x"}, want: []string{`audit verify: Required flag "key-file" not set`}},
		{name: "serve without TLS files", args: []string{"serve"}, want: []string{"config key tls-cert (from default): not set", "kmipd dev"}},
		{name: "missing config file", args: []string{"serve", "--config", dir + "/none.conf"}, want: []string{"config file", "none.conf", "hint"}},
		{name: "unknown key names file and line", args: []string{"serve", "--config", unknownKey}, want: []string{unknownKey + ":3", `unknown key "lisen"`}},
		{name: "PIN refused in config file", args: []string{"config", "check", "--config", pinKey}, want: []string{pinKey + ":1", "PINs are not read from the config file", "KMIPD_PKCS11_PIN"}},
		{name: "bad value names key and line", args: []string{"config", "check", "--config", badValue}, want: []string{"config key read-timeout", badValue + ":3", `"soon" is not a positive duration`}},
		{name: "bad flag value", args: []string{"config", "check", "--max-connections", "many"}, want: []string{"config key max-connections (from --max-connections", `"many"`}},
		{name: "bad env value", args: []string{"config", "check"}, env: []string{"KMIPD_PKCS11_MAX_SESSIONS=lots"}, want: []string{"config key pkcs11-max-sessions", "KMIPD_PKCS11_MAX_SESSIONS", `"lots" is not a positive whole number`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runKmipdBinary(t, tt.env, tt.args...)
			if code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			if stdout != "" {
				t.Errorf("stdout %q; errors go to stderr only", stdout)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "kmipd: ") {
				t.Fatalf("stderr is not one line starting with \"kmipd: \":\n%s", stderr)
			}
			if !strings.Contains(stderr, " — ") {
				t.Errorf("no hint in %q", stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q lacks %q", stderr, w)
				}
			}
			if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "USAGE:") {
				t.Errorf("stack trace or usage text in %q", stderr)
			}
		})
	}
}

// TestHelpStillWorks: the one-line errors must not break --help.
func TestHelpStillWorks(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {}, {"serve", "--help"}, {"help", "dev"}} {
		stdout, _, code := runKmipdBinary(t, nil, args...)
		if code != 0 || !strings.Contains(stdout, "USAGE:") {
			t.Errorf("kmipd %v: code %d, stdout:\n%s", args, code, stdout)
		}
	}
}
