package service

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// cryptoVectorsDir holds the OASIS XML test vectors (see
// /work/shared/conformance/README.md).
const cryptoVectorsDir = "../../shared/conformance/testcases"

// cryptoOpsSet are the operations of this group: their response payloads
// are compared field by field; for the others (Register, Create, Revoke,
// Destroy, ...) only the Result Status and Reason are.
var cryptoOpsSet = map[kmip.Operation]bool{
	kmip.OperationEncrypt: true, kmip.OperationDecrypt: true, kmip.OperationSign: true,
	kmip.OperationSignatureVerify: true, kmip.OperationMAC: true, kmip.OperationMACVerify: true,
	kmip.OperationHash: true, kmip.OperationRNGRetrieve: true, kmip.OperationRNGSeed: true,
}

// cryptoPlaceholderMark marks a response value that was a placeholder in
// the vector ($DATA, $CORRELATION_VALUE, ...).
const cryptoPlaceholderMark = "\x00placeholder:"

// TestCryptoOASISVectors replays whole OASIS vector files of the
// cryptographic services (CS-BC-M, CS-AC-M, CS-RNG-M and the streaming
// test cases), every request encoded as TTLV through kmip.HandleMessage,
// and compares each response with the vector's: Result Status and Reason
// always, and for the cryptographic operations the payload's fields in
// order and their values, except where the server's random choice makes
// the vector's literal unrepeatable (README "Compare these by type and
// length only").
func TestCryptoOASISVectors(t *testing.T) {
	if _, err := os.Stat(cryptoVectorsDir); err != nil {
		t.Skipf("no conformance vectors at %s (%v)", cryptoVectorsDir, err)
	}
	var files []string
	for _, pattern := range []string{
		"kmip-1.4/mandatory/CS-*.xml", "kmip-2.0/mandatory/CS-*.xml",
		"kmip-1.4/testcases/TC-STREAM-*.xml", "kmip-2.0/testcases/TC-STREAM-*.xml",
		"kmip-1.4/testcases/TC-RSA-SIGN-DIGESTEDDATA-*.xml", "kmip-2.0/testcases/TC-RSA-SIGN-DIGESTEDDATA-*.xml",
	} {
		m, _ := filepath.Glob(filepath.Join(cryptoVectorsDir, pattern))
		files = append(files, m...)
	}
	if len(files) < 80 {
		t.Fatalf("found only %d vector files", len(files))
	}
	env := cryptoNewEnv(t, cryptoDefaultCache)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := &cryptoReplay{env: env, ids: map[string]string{}, captured: map[ttlv.Tag][]byte{}, created: map[string]bool{},
				randomEncrypt: strings.Contains(f, "CS-AC-M-OAEP")}
			if n := r.run(t, f); n == 0 {
				t.Errorf("no request replayed")
			}
		})
	}
}

// cryptoReplay is the state of one vector file's replay.
type cryptoReplay struct {
	env      *cryptoEnv
	ids      map[string]string   // $UNIQUE_IDENTIFIER_n label → identifier
	created  map[string]bool     // objects the server generated: random keys
	lastID   string              // the last identifier bound
	captured map[ttlv.Tag][]byte // the latest byte string of each tag in a response
	// randomEncrypt: Encrypt is RSA here, randomised, so its output is
	// compared by length.
	randomEncrypt bool
}

func (r *cryptoReplay) requestPlaceholder(tag ttlv.Tag, typ ttlv.Type, s string) (ttlv.Value, bool, error) {
	switch {
	case typ == ttlv.TypeTextString && strings.HasPrefix(s, "$UNIQUE_IDENTIFIER"):
		if id, ok := r.ids[s]; ok {
			return ttlv.Text(tag, id), true, nil
		}
		return ttlv.Text(tag, r.lastID), true, nil
	case (typ == ttlv.TypeDateTime || typ == ttlv.TypeDateTimeExtended) && strings.HasPrefix(s, "$NOW"):
		off := 0
		if rest := strings.TrimPrefix(s, "$NOW"); rest != "" {
			var err error
			if off, err = strconv.Atoi(rest); err != nil {
				return ttlv.Value{}, false, fmt.Errorf("placeholder %s", s)
			}
		}
		at := r.env.clock.Now().Add(time.Duration(off) * time.Second)
		if typ == ttlv.TypeDateTimeExtended {
			return ttlv.DateTimeExtended(tag, at), true, nil
		}
		return ttlv.DateTime(tag, at), true, nil
	case typ == ttlv.TypeByteString:
		// README: an unbound request placeholder takes the same-named
		// element of the latest response.
		b, ok := r.captured[tag]
		if !ok {
			return ttlv.Value{}, false, fmt.Errorf("placeholder %s: no %s in an earlier response", s, kmip.TagString(tag))
		}
		return ttlv.Bytes(tag, b), true, nil
	}
	return ttlv.Value{}, false, fmt.Errorf("request placeholder %s of type %d", s, typ)
}

func cryptoResponsePlaceholder(tag ttlv.Tag, typ ttlv.Type, s string) (ttlv.Value, bool, error) {
	switch typ {
	case ttlv.TypeTextString:
		return ttlv.Text(tag, s), true, nil
	case ttlv.TypeByteString:
		return ttlv.Bytes(tag, []byte(cryptoPlaceholderMark+s)), true, nil
	case ttlv.TypeDateTime:
		return ttlv.DateTime(tag, time.Unix(0, 0)), true, nil
	case ttlv.TypeDateTimeExtended:
		return ttlv.DateTimeExtended(tag, time.Unix(0, 0)), true, nil
	default:
		return ttlv.Value{}, false, fmt.Errorf("response placeholder %s of type %d", s, typ)
	}
}

// run replays the file and returns the number of requests sent.
func (r *cryptoReplay) run(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// One official file has text after its first </KMIP> (README).
	if i := bytes.Index(data, []byte("</KMIP>")); i >= 0 {
		data = data[:i+len("</KMIP>")]
	}
	names := kmip.NewNames()
	reqOpts := ttlv.XMLOptions{Names: names, Placeholder: r.requestPlaceholder}
	respOpts := ttlv.XMLOptions{Names: names, Placeholder: cryptoResponsePlaceholder}
	ctx := kmip.WithConnInfo(context.Background(), &kmip.ConnInfo{})
	d := xml.NewDecoder(bytes.NewReader(data))
	var got ttlv.Value
	var req ttlv.Value
	sent := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("xml: %v", err)
		}
		start, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch start.Name.Local {
		case "RequestMessage":
			if req, err = reqOpts.DecodeElement(d, start); err != nil {
				t.Fatalf("request %d: %v", sent+1, err)
			}
			raw := kmip.HandleMessage(ctx, r.env.svc, ttlv.Marshal(req), &kmip.MessageOptions{Now: r.env.clock.Now})
			if got, err = ttlv.Decode(raw, ttlv.Limits{}); err != nil {
				t.Fatalf("request %d: response does not decode: %v", sent+1, err)
			}
			sent++
		case "ResponseMessage":
			want, err := respOpts.DecodeElement(d, start)
			if err != nil {
				t.Fatalf("response %d: %v", sent, err)
			}
			r.compare(t, fmt.Sprintf("request %d", sent), req, got, want)
		}
	}
	return sent
}

// compare checks got against the vector's response want.
func (r *cryptoReplay) compare(t *testing.T, name string, req, got, want ttlv.Value) {
	t.Helper()
	gi, wi, ri := got.All(kmip.TagBatchItem), want.All(kmip.TagBatchItem), req.All(kmip.TagBatchItem)
	if len(gi) != len(wi) {
		t.Errorf("%s: %d batch items, want %d", name, len(gi), len(wi))
		return
	}
	for i := range wi {
		g, w := gi[i], wi[i]
		op, _ := w.Child(kmip.TagOperation)
		label := fmt.Sprintf("%s item %d (%v)", name, i, kmip.Operation(op.Enum()))
		for _, tag := range []ttlv.Tag{kmip.TagOperation, kmip.TagResultStatus, kmip.TagResultReason} {
			gv, gok := g.Child(tag)
			wv, wok := w.Child(tag)
			if gok != wok || !ttlv.Equal(gv, wv) {
				msg, _ := g.Child(kmip.TagResultMessage)
				t.Errorf("%s: %s is %v, want %v (message %q)", label, kmip.TagString(tag), cryptoEnumName(gv), cryptoEnumName(wv), msg.Text())
				return
			}
		}
		gp, _ := g.Child(kmip.TagResponsePayload)
		wp, _ := w.Child(kmip.TagResponsePayload)
		r.bind(gp, wp)
		if kmip.Operation(op.Enum()) == kmip.OperationCreate {
			id, _ := gp.Child(kmip.TagUniqueIdentifier)
			r.created[id.Text()] = true
		}
		if cryptoOpsSet[kmip.Operation(op.Enum())] {
			var rp ttlv.Value
			if i < len(ri) {
				rp, _ = ri[i].Child(kmip.TagRequestPayload)
			}
			r.comparePayload(t, label, kmip.Operation(op.Enum()), rp, gp, wp)
		}
		for _, c := range gp.Children() {
			if c.Type == ttlv.TypeByteString {
				r.captured[c.Tag] = bytes.Clone(c.Bytes())
			}
		}
	}
}

func cryptoEnumName(v ttlv.Value) string {
	if v.IsZero() {
		return "absent"
	}
	if s, ok := kmip.NewNames().EnumName(v.Tag, v.Enum()); ok {
		return s
	}
	return fmt.Sprint(v.Enum())
}

// bind records the identifiers the vector names by placeholder.
func (r *cryptoReplay) bind(got, want ttlv.Value) {
	seen := map[ttlv.Tag]int{}
	for _, w := range want.Children() {
		n := seen[w.Tag]
		seen[w.Tag]++
		if w.Type != ttlv.TypeTextString || !strings.HasPrefix(w.Text(), "$UNIQUE_IDENTIFIER") {
			continue
		}
		gs := got.All(w.Tag)
		if n < len(gs) {
			r.ids[w.Text()] = gs[n].Text()
			r.lastID = gs[n].Text()
		}
	}
}

// comparePayload compares a cryptographic operation's response payload:
// the same fields in the same order, and equal values except placeholders
// and random outputs.
func (r *cryptoReplay) comparePayload(t *testing.T, label string, op kmip.Operation, req, got, want ttlv.Value) {
	t.Helper()
	if !slices.Equal(cryptoTags(got), cryptoTags(want)) {
		t.Errorf("%s: fields %v, want %v", label, cryptoTags(got), cryptoTags(want))
		return
	}
	_, serverIV := got.Child(kmip.TagIVCounterNonce)
	id, _ := got.Child(kmip.TagUniqueIdentifier)
	// README: outputs of keys the server created, of server-chosen IVs and
	// of the RNG are the reference server's and compare by length.
	random := op == kmip.OperationRNGRetrieve || r.created[id.Text()] ||
		(op == kmip.OperationEncrypt && (serverIV || r.randomEncrypt))
	for i, w := range want.Children() {
		g := got.Children()[i]
		switch {
		case w.Type == ttlv.TypeByteString && bytes.HasPrefix(w.Bytes(), []byte(cryptoPlaceholderMark)):
			continue // captured after the comparison
		case w.Type == ttlv.TypeTextString && strings.HasPrefix(w.Text(), "$"):
			continue // bound identifiers
		case random && g.Type == ttlv.TypeByteString && w.Type == ttlv.TypeByteString:
			if len(g.Bytes()) != len(w.Bytes()) {
				t.Errorf("%s: %s of %d bytes, want %d", label, kmip.TagString(w.Tag), len(g.Bytes()), len(w.Bytes()))
			}
		case !ttlv.Equal(g, w):
			t.Errorf("%s: %s = %s, want %s", label, kmip.TagString(w.Tag), cryptoShow(g), cryptoShow(w))
		}
	}
}

func cryptoShow(v ttlv.Value) string {
	if v.Type == ttlv.TypeByteString {
		return fmt.Sprintf("%x", v.Bytes())
	}
	if v.Type == ttlv.TypeEnumeration {
		return cryptoEnumName(v)
	}
	return fmt.Sprint(v)
}
