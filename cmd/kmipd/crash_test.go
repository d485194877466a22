package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/kmipclient"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// Durability tests over the whole stack, with kmipd as a child process
// (this test binary re-executed as kmipd, see TestMain) on SoftHSM:
//
//   - TestCrashDurability: an acknowledged Create survives SIGKILL (issue
//     "Managed objects on the HSM": every write is one fsynced bbolt
//     transaction before the response goes out).
//   - TestKnownBytesAbsentAtRest: registered key material and encrypted
//     plaintext are found nowhere on disk: not in the database, its backup,
//     the audit log or the SoftHSM token directory.

// crashBudget bounds TestCrashDurability: both server starts, the stream,
// the checks and the backup.
const crashBudget = 20 * time.Second

// TestCrashDurability: four clients stream Creates; the server is killed
// with SIGKILL while Creates are in flight; after a restart on the same
// data directory every Create that was answered exists with its material,
// every stored object is consistent, and `kmipd backup` of the restarted
// server writes a snapshot that opens and holds them all.
func TestCrashDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kmipd dev twice with SoftHSM")
	}
	module := softHSMModule(t)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), crashBudget)
	defer cancel()
	dir := t.TempDir()
	args := []string{"dev", "--data-dir", dir, "--listen", "127.0.0.1:0", "--pkcs11-module", module, "--log-level", "warn"}

	p := startKmipd(t, nil, args...)
	addr := p.waitFor(devServingRE, crashBudget)[1]
	cfg := devClientTLS(t, dir)

	const (
		workers = 4
		target  = 300 // answered Creates before the kill
	)
	var (
		mu       sync.Mutex
		answered []string
		killed   atomic.Bool
		enough   = make(chan struct{})
		once     sync.Once
		wg       sync.WaitGroup
		inFlight atomic.Int32 // Creates that failed because of the kill
	)
	clientErrs := make(chan error, workers)
	for range workers {
		c, err := kmipclient.Dial(ctx, addr, cfg, kmipclient.Options{Timeout: 5 * time.Second})
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			for ctx.Err() == nil {
				id, err := c.CreateAES(ctx, 256, "")
				if err != nil {
					if killed.Load() {
						inFlight.Add(1)
					} else {
						clientErrs <- err
					}
					return
				}
				mu.Lock()
				answered = append(answered, id)
				n := len(answered)
				mu.Unlock()
				if n >= target {
					once.Do(func() { close(enough) })
				}
			}
		}()
	}
	select {
	case <-enough:
	case err := <-clientErrs:
		t.Fatalf("Create failed before the kill: %v\n%s", err, p.output())
	case <-ctx.Done():
		t.Fatalf("fewer than %d Creates answered within %v\n%s", target, crashBudget, p.output())
	}
	killed.Store(true)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	t.Logf("kmipd after SIGKILL: %v", <-p.done)
	p.exited = true
	wg.Wait()
	close(clientErrs)
	for err := range clientErrs {
		t.Errorf("Create failed before the kill: %v", err)
	}
	if inFlight.Load() == 0 {
		t.Error("no client stream was running at the kill; the test did not test a crash mid-stream")
	}
	t.Logf("%d Creates answered, %d interrupted by SIGKILL, after %v", len(answered), inFlight.Load(), time.Since(start))

	p = startKmipd(t, nil, args...)
	addr = p.waitFor(devServingRE, crashBudget-time.Since(start))[1]
	c, err := kmipclient.Dial(ctx, addr, cfg, kmipclient.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, id := range answered {
		checkStoredKey(ctx, t, c, id)
	}
	// Every stored symmetric key, answered or not, is whole.
	loc, err := c.Do(ctx, kmip.OperationLocate, ttlv.Struct(kmip.TagRequestPayload,
		ttlv.Struct(kmip.TagAttribute,
			ttlv.Text(kmip.TagAttributeName, "Object Type"),
			ttlv.Enum(kmip.TagAttributeValue, uint32(kmip.ObjectTypeSymmetricKey)))))
	if err != nil {
		t.Fatalf("Locate after restart: %v", err)
	}
	stored := loc.All(kmip.TagUniqueIdentifier)
	if len(stored) < len(answered) {
		t.Errorf("%d keys stored after the restart, %d were answered", len(stored), len(answered))
	}
	storedIDs := make([]string, len(stored))
	for i, v := range stored {
		checkStoredKey(ctx, t, c, v.Text())
		storedIDs[i] = v.Text()
	}
	checkCreateRecords(t, filepath.Join(dir, "audit.log"), storedIDs)

	out := filepath.Join(t.TempDir(), "snapshot.db")
	stdout, stderr, code := runKmipdBinary(t, nil, "backup", "--data-dir", dir, "--out", out)
	if code != 0 || !strings.Contains(stdout, "online") {
		t.Fatalf("kmipd backup of the restarted server: code %d\n%s%s", code, stdout, stderr)
	}
	snap, err := objects.Open(out, objects.Options{})
	if err != nil {
		t.Fatalf("the snapshot does not open: %v", err)
	}
	for _, id := range answered {
		o, err := snap.Get(ctx, id)
		if err != nil || o.Wrapped == nil || o.ObjectType != kmip.ObjectTypeSymmetricKey {
			t.Errorf("snapshot: %s: %v", id, err)
		}
	}
	if err := snap.Close(); err != nil {
		t.Error(err)
	}
	p.stop(syscall.SIGTERM, crashBudget)
	if d := time.Since(start); d > crashBudget {
		t.Errorf("the crash test took %v; its bound is %v", d, crashBudget)
	}
}

// checkCreateRecords: the audit log at path holds exactly one Create
// record for each of ids, the stored keys: none lost to the kill, and none
// written twice by the restart's journal recovery (service.RecoverJournal,
// which finds the records a SIGKILL leaves in the page cache).
func checkCreateRecords(t *testing.T, path string, ids []string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for line := range bytes.Lines(raw) {
		if !bytes.Contains(line, []byte(`"operation":"Create"`)) {
			continue
		}
		for _, id := range ids {
			// object_id of a record; objects_written of a recovered one.
			if bytes.Contains(line, []byte(id)) {
				count[id]++
			}
		}
	}
	recovered := bytes.Count(raw, []byte(`"recovered":"write journal"`))
	for _, id := range ids {
		if count[id] != 1 {
			t.Errorf("key %s: %d Create records in the audit log, want 1 (%d recovered records in all)", id, count[id], recovered)
		}
	}
}

// checkStoredKey reads id's attributes and material: an AES-256 key in
// Pre-Active state whose wrapped material unwraps.
func checkStoredKey(ctx context.Context, t *testing.T, c *kmipclient.Conn, id string) {
	t.Helper()
	p, err := c.Do(ctx, kmip.OperationGetAttributes, ttlv.Struct(kmip.TagRequestPayload,
		ttlv.Text(kmip.TagUniqueIdentifier, id),
		ttlv.Text(kmip.TagAttributeName, "State"),
		ttlv.Text(kmip.TagAttributeName, "Cryptographic Length")))
	if err != nil {
		t.Errorf("answered Create %s lost after SIGKILL: %v", id, err)
		return
	}
	got := map[string]ttlv.Value{}
	for _, a := range p.All(kmip.TagAttribute) {
		n, _ := a.Child(kmip.TagAttributeName)
		v, _ := a.Child(kmip.TagAttributeValue)
		got[n.Text()] = v
	}
	if kmip.State(got["State"].Enum()) != kmip.StatePreActive || got["Cryptographic Length"].Int() != 256 {
		t.Errorf("%s after restart: %v", id, p)
	}
	o, err := c.Get(ctx, id)
	if err != nil {
		t.Errorf("Get %s after restart: %v", id, err)
		return
	}
	defer o.Clear()
	block, _ := o.Value.Child(kmip.TagKeyBlock)
	kv, _ := block.Child(kmip.TagKeyValue)
	if m, _ := kv.Child(kmip.TagKeyMaterial); len(m.Bytes()) != 32 {
		t.Errorf("%s after restart: key material of %d bytes", id, len(m.Bytes()))
	}
}

// TestKnownBytesAbsentAtRest registers an AES key with known material
// through a running kmipd, uses it (Encrypt and Decrypt through the key
// cache, Get), takes an online backup, stops the server, and scans every
// file of the data directory (database, audit log and key, SoftHSM token
// directory, certificates) and the backup for the key material and the
// plaintext, raw and in hex and base64: none may be there.
func TestKnownBytesAbsentAtRest(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kmipd dev with SoftHSM")
	}
	module := softHSMModule(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	p := startKmipd(t, nil, "dev", "--data-dir", dir, "--listen", "127.0.0.1:0", "--pkcs11-module", module, "--log-level", "debug")
	addr := p.waitFor(devServingRE, time.Minute)[1]
	c, err := kmipclient.Dial(ctx, addr, devClientTLS(t, dir), kmipclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	material := make([]byte, 32)
	plaintext := make([]byte, 48)
	_, _ = rand.Read(material)
	_, _ = rand.Read(plaintext)
	name := "known-bytes-" + hex.EncodeToString(material[:4]) // a control: metadata is stored in the clear
	reg, err := c.Do(ctx, kmip.OperationRegister, ttlv.Struct(kmip.TagRequestPayload,
		ttlv.Enum(kmip.TagObjectType, uint32(kmip.ObjectTypeSymmetricKey)),
		ttlv.Struct(kmip.TagTemplateAttribute,
			ttlv.Struct(kmip.TagAttribute,
				ttlv.Text(kmip.TagAttributeName, "Cryptographic Usage Mask"),
				ttlv.Int(kmip.TagAttributeValue, int32(kmip.CryptographicUsageMaskEncrypt|kmip.CryptographicUsageMaskDecrypt))),
			ttlv.Struct(kmip.TagAttribute,
				ttlv.Text(kmip.TagAttributeName, "Name"),
				ttlv.Struct(kmip.TagAttributeValue,
					ttlv.Text(kmip.TagNameValue, name),
					ttlv.Enum(kmip.TagNameType, uint32(kmip.NameTypeUninterpretedTextString))))),
		ttlv.Struct(kmip.TagSymmetricKey, ttlv.Struct(kmip.TagKeyBlock,
			ttlv.Enum(kmip.TagKeyFormatType, uint32(kmip.KeyFormatTypeRaw)),
			ttlv.Struct(kmip.TagKeyValue, ttlv.Bytes(kmip.TagKeyMaterial, bytes.Clone(material))),
			ttlv.Enum(kmip.TagCryptographicAlgorithm, uint32(kmip.CryptographicAlgorithmAES)),
			ttlv.Int(kmip.TagCryptographicLength, 256)))))
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	idV, _ := reg.Child(kmip.TagUniqueIdentifier)
	id := idV.Text()
	if err := c.Activate(ctx, id); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second use hits the key cache
		ct, err := c.Encrypt(ctx, id, plaintext, nil)
		if err != nil {
			t.Fatalf("Encrypt: %v", err)
		}
		pt, err := c.Decrypt(ctx, id, ct)
		if err != nil || !bytes.Equal(pt, plaintext) {
			t.Fatalf("Decrypt: %v", err)
		}
	}
	o, err := c.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := o.Value.Child(kmip.TagKeyBlock)
	kv, _ := block.Child(kmip.TagKeyValue)
	if m, _ := kv.Child(kmip.TagKeyMaterial); !bytes.Equal(m.Bytes(), material) {
		t.Fatal("Get returned other material than registered")
	}
	o.Clear()

	backup := filepath.Join(t.TempDir(), "backup.db")
	if stdout, stderr, code := runKmipdBinary(t, nil, "backup", "--data-dir", dir, "--out", backup); code != 0 {
		t.Fatalf("kmipd backup: code %d\n%s%s", code, stdout, stderr)
	}
	p.stop(syscall.SIGTERM, 30*time.Second)

	secrets := map[string][]byte{"key material": material, "plaintext": plaintext}
	var files []string
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		files = append(files, path)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, backup)
	var sawDB, sawAudit, sawToken, sawBackup bool
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, f)
		switch {
		case f == backup:
			sawBackup = true
			rel = "backup " + filepath.Base(f)
		case rel == "kmipd.db":
			sawDB = true
		case rel == "audit.log":
			sawAudit = len(data) > 0
		case strings.HasPrefix(rel, filepath.Join("softhsm", "tokens")+string(filepath.Separator)):
			sawToken = true
		}
		if (f == backup || rel == "kmipd.db") && !bytes.Contains(data, []byte(name)) {
			t.Errorf("%s lacks the key's Name: the scan does not read what the server stored", rel)
		}
		for what, s := range secrets {
			for enc, needle := range encodings(s) {
				if bytes.Contains(data, needle) {
					t.Errorf("%s holds the %s (%s)", rel, what, enc)
				}
			}
		}
	}
	if !sawDB || !sawAudit || !sawToken || !sawBackup {
		t.Errorf("scanned %d files; database %v, audit log %v, SoftHSM token %v, backup %v", len(files), sawDB, sawAudit, sawToken, sawBackup)
	}
	log := []byte(p.output())
	for what, s := range secrets {
		for enc, needle := range encodings(s) {
			if bytes.Contains(log, needle) {
				t.Errorf("the server's debug log holds the %s (%s)", what, enc)
			}
		}
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Error("known-bytes test ran out of time")
	}
}

// encodings are the forms a secret could take in a file: raw, hex, and
// base64 in both alphabets at each of the three alignments a secret
// embedded in a longer encoded blob can have (whole 3-byte groups only, so
// that the needle is exactly what such a blob would contain).
func encodings(s []byte) map[string][]byte {
	out := map[string][]byte{
		"raw":          s,
		"first 16 raw": s[:16],
		"last 16 raw":  s[len(s)-16:],
		"hex":          []byte(hex.EncodeToString(s)),
		"HEX":          []byte(strings.ToUpper(hex.EncodeToString(s))),
	}
	for k := range 3 {
		part := s[k : k+3*((len(s)-k)/3)]
		out["base64+"+strconv.Itoa(k)] = []byte(base64.StdEncoding.EncodeToString(part))
		out["base64url+"+strconv.Itoa(k)] = []byte(base64.URLEncoding.EncodeToString(part))
	}
	return out
}

// TestTornAuditLogRepair: the path after a power failure tore the audit
// log's last record, the record of a Create. kmipd refuses to start and
// names the repair; `kmipd audit repair` cuts the torn bytes into a file
// beside the log; kmipd then starts, continues the chain and rebuilds the
// lost record from the store's write journal, so that each Create has
// exactly one record.
func TestTornAuditLogRepair(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kmipd dev twice with SoftHSM")
	}
	module := softHSMModule(t)
	dir := t.TempDir()
	args := []string{"dev", "--data-dir", dir, "--listen", "127.0.0.1:0", "--pkcs11-module", module, "--log-level", "warn"}
	p := startKmipd(t, nil, args...)
	addr := p.waitFor(devServingRE, crashBudget)[1]
	ctx, cancel := context.WithTimeout(context.Background(), crashBudget)
	defer cancel()
	c, err := kmipclient.Dial(ctx, addr, devClientTLS(t, dir), kmipclient.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range 3 { // three records, to tear the last
		id, err := c.CreateAES(ctx, 256, "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	_ = c.Close()
	// Killed within the second the journal keeps entries after their
	// records are written: as a power failure would find it.
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	t.Logf("kmipd after SIGKILL: %v", <-p.done)
	p.exited = true

	log := filepath.Join(dir, "audit.log")
	raw, err := os.ReadFile(log)
	if err != nil || len(raw) < 10 {
		t.Fatalf("audit log after a first start: %d bytes, %v", len(raw), err)
	}
	torn := raw[:len(raw)-7] // the last record lost its end
	if err := os.WriteFile(log, torn, 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runKmipdBinary(t, nil, args...)
	if code != 1 || !strings.Contains(stderr, "kmipd audit repair --log "+log) {
		t.Fatalf("start on a torn log: code %d, want 1 with the repair named:\n%s", code, stderr)
	}

	stdout, stderr, code := runKmipdBinary(t, nil, "audit", "repair", "--log", log)
	if code != 0 || !strings.Contains(stdout, "torn by a crash") {
		t.Fatalf("audit repair: code %d\n%s%s", code, stdout, stderr)
	}
	if stdout, _, code := runKmipdBinary(t, nil, "audit", "repair", "--log", log); code != 0 || !strings.Contains(stdout, "nothing to repair") {
		t.Errorf("second audit repair: code %d: %s", code, stdout)
	}
	p = startKmipd(t, nil, args...)
	p.waitFor(devServingRE, crashBudget)
	p.stop(syscall.SIGTERM, crashBudget)
	stdout, stderr, code = runKmipdBinary(t, nil, "audit", "verify", "--log", log, "--key-file", filepath.Join(dir, "audit.key"))
	if code != 0 {
		t.Errorf("audit verify after the repair and a restart: code %d\n%s%s", code, stdout, stderr)
	}
	checkCreateRecords(t, log, ids)
	after, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(after, []byte(`"recovered":"write journal"`)); n != 1 || !bytes.Contains(after, []byte(`"objects_written":"`+ids[2]+`"`)) {
		t.Errorf("%d recovered records, want 1, for the torn Create %s", n, ids[2])
	}
}
