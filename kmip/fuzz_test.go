package kmip

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kmipd/kmipd/ttlv"
)

// fuzzCorpusDir holds the committed seed corpus of FuzzHandleMessage:
// request messages of the OASIS vectors encoded in binary TTLV, and
// hand-made bad messages. `go test` runs every file in it. Regenerate it
// with:
//
//	KMIPD_UPDATE_FUZZ_CORPUS=1 go test -run TestWriteFuzzCorpus ./kmip
const fuzzCorpusDir = "testdata/fuzz/FuzzHandleMessage"

// fuzzMux answers a little of everything, so that the fuzzer reaches the
// batch logic (Undo included), the ID placeholder and the version filter:
// Discover Versions, Query, an echo of the request payload (any tree the
// fuzzer invents goes through FilterForVersion), a reversible Create-like
// handler and a handler that panics.
func fuzzMux() *ServeMux {
	mux := NewServeMux()
	mux.HandleFunc(OperationDiscoverVersions, DiscoverVersions)
	mux.Handle(OperationQuery, QueryHandler(testServerInfo()))
	echo := func(_ context.Context, req *Request) (ttlv.Value, error) {
		return Payload(req.Payload.Children()...), nil
	}
	mux.HandleFunc(OperationGet, echo)
	mux.HandleFunc(OperationGetAttributes, echo)
	mux.HandleFunc(OperationRegister, echo)
	mux.HandleFunc(OperationCreate, func(_ context.Context, req *Request) (ttlv.Value, error) {
		// Reversible, so that Undo batches reach undoBatch.
		req.OnUndo(func(context.Context) error { return nil })
		return Payload(ttlv.Enum(TagObjectType, uint32(ObjectTypeSymmetricKey)), ttlv.Text(TagUniqueIdentifier, "fuzz-1")), nil
	})
	mux.HandleFunc(OperationDestroy, func(_ context.Context, req *Request) (ttlv.Value, error) {
		id, ok := req.UniqueIdentifier()
		if !ok {
			return ttlv.Value{}, Errorf(ResultReasonItemNotFound, "no unique identifier")
		}
		return Payload(ttlv.Text(TagUniqueIdentifier, id)), nil
	})
	mux.HandleFunc(OperationArchive, func(context.Context, *Request) (ttlv.Value, error) {
		panic("fuzz")
	})
	return mux
}

// FuzzHandleMessage: whatever the bytes, HandleMessage never panics and
// always returns a decodable Response Message with at least one batch item
// (KMIP 1.4 §11.1: even a message that cannot be parsed is answered).
func FuzzHandleMessage(f *testing.F) {
	for _, s := range badMessageSeeds() {
		f.Add(s.raw)
	}
	mux := fuzzMux()
	opts := &MessageOptions{Now: func() time.Time { return testNow }}
	f.Fuzz(func(t *testing.T, raw []byte) {
		in := bytes.Clone(raw)
		out := HandleMessage(context.Background(), mux, raw, opts)
		if !bytes.Equal(in, raw) {
			t.Fatal("HandleMessage modified its input")
		}
		m, err := decodeResponse(out)
		if err != nil {
			t.Fatalf("response is not a valid Response Message: %v", err)
		}
		if _, ok := Negotiate(m.Version); !ok || m.Version.Minor > 4 || (m.Version.Major == 2 && m.Version.Minor > 1) {
			t.Fatalf("answered in version %v, which we do not speak", m.Version)
		}
		// Responses are encoded without building the filtered tree; any
		// tree the fuzzer invents must encode as its filtered copy does.
		if v, err := ttlv.Decode(raw, ttlv.Limits{}); err == nil {
			for _, ver := range SupportedVersions {
				var e ttlv.Encoder
				appendFiltered(&e, v, ver)
				if want := ttlv.Marshal(FilterForVersion(v, ver)); !bytes.Equal(e.Bytes(), want) {
					t.Fatalf("appendFiltered for %v differs from FilterForVersion", ver)
				}
			}
		}
	})
}

// corpusSeed is one seed: a name for its file and the bytes.
type corpusSeed struct {
	name string
	raw  []byte
}

// badMessageSeeds are hand-made messages that each take one error path.
func badMessageSeeds() []corpusSeed {
	valid := ttlv.Marshal(reqMessage(V1_4, nil, reqItemID(OperationQuery, 1, ttlv.Enum(TagQueryFunction, uint32(QueryFunctionQueryOperations)))))
	badPadding := bytes.Clone(valid)
	badPadding[8+8+8+8+7] = 0xff
	huge := bytes.Clone(valid[:8])
	binary.BigEndian.PutUint32(huge[4:], 0xfffffff8)
	deep := ttlv.Struct(TagRequestPayload)
	for range 60 {
		deep = ttlv.Struct(TagRequestPayload, deep)
	}
	msg := func(hdr ttlv.Value, items ...ttlv.Value) []byte {
		return ttlv.Marshal(ttlv.Struct(TagRequestMessage, append([]ttlv.Value{hdr}, items...)...))
	}
	q := reqItem(OperationQuery, ttlv.Enum(TagQueryFunction, uint32(QueryFunctionQueryServerInformation)))
	return []corpusSeed{
		{"valid-query", valid},
		{"empty", []byte{}},
		{"header-only", valid[:8]},
		{"truncated", valid[:len(valid)-3]},
		{"trailing", append(bytes.Clone(valid), 0x42, 0, 0x01, 0x01, 0, 0, 0, 0)},
		{"huge-length", huge},
		{"bad-padding", badPadding},
		{"not-a-structure", ttlv.Marshal(ttlv.Text(TagRequestMessage, "hello"))},
		{"garbage", []byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not TTLV at all")},
		{"deep", msg(reqHeader(V1_4, 1), ttlv.Struct(TagBatchItem, ttlv.Enum(TagOperation, uint32(OperationGet)), deep))},
		{"batch-count-mismatch", msg(reqHeader(V1_2, 3), q)},
		{"repeated-header-field", msg(reqHeader(V2_0, 1, ttlv.Int(TagBatchCount, 1)), q)},
		{"no-batch-item", msg(reqHeader(V1_0, 0))},
		{"undo", msg(reqHeader(V1_4, 3, ttlv.Enum(TagBatchErrorContinuationOption, uint32(BatchErrorContinuationOptionUndo))),
			reqItem(OperationCreate), q, reqItem(OperationPoll))},
		{"unknown-operation", msg(reqHeader(V1_4, 2), reqItem(OperationPoll), q)},
		{"major-version-3", msg(reqHeader(ProtocolVersion{3, 0}, 1), q)},
		{"bad-batch-item", msg(reqHeader(V1_4, 2, ttlv.Enum(TagBatchErrorContinuationOption, uint32(BatchErrorContinuationOptionContinue))),
			ttlv.Struct(TagBatchItem, ttlv.Int(TagOperation, 1)), q)},
		{"placeholder-chain", msg(reqHeader(V1_4, 3), reqItem(OperationCreate), reqItem(OperationGet), reqItem(OperationDestroy))},
		{"panic", msg(reqHeader(V1_4, 2, ttlv.Enum(TagBatchErrorContinuationOption, uint32(BatchErrorContinuationOptionContinue))),
			reqItem(OperationArchive), q)},
		{"echo-2x-fields-to-1.0", msg(reqHeader(V1_0, 1), reqItem(OperationGet,
			ttlv.Text(TagUniqueIdentifier, "a"), ttlv.Struct(TagAttributes, ttlv.Int(TagProtectionStorageMask, 1))))},
		{"max-response-size", msg(reqHeader(V1_4, 1, ttlv.Int(TagMaximumResponseSize, 64)), q)},
	}
}

// vectorPlaceholder stands in for the vectors' $NOW, $UNIQUE_IDENTIFIER_n,
// $DATA and friends: fixed values of the right type, since the corpus is
// about shapes, not about what the server answers.
func vectorPlaceholder(tag ttlv.Tag, typ ttlv.Type, value string) (ttlv.Value, bool, error) {
	name := strings.TrimPrefix(value, "$")
	switch typ {
	case ttlv.TypeDateTime:
		return ttlv.DateTime(tag, testNow), true, nil
	case ttlv.TypeDateTimeExtended:
		return ttlv.DateTimeExtended(tag, testNow), true, nil
	case ttlv.TypeTextString:
		return ttlv.Text(tag, strings.ToLower(name)), true, nil
	case ttlv.TypeByteString:
		return ttlv.Bytes(tag, []byte(strings.ToLower(name))), true, nil
	default:
		return ttlv.Value{}, false, nil
	}
}

// vectorRequests returns the request messages of one vector file, encoded,
// with placeholders substituted.
func vectorRequests(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	opts := ttlv.XMLOptions{Names: NewNames(), Placeholder: vectorPlaceholder}
	var out [][]byte
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			// TC-ECDSA-SIGN-1-14.xml is malformed after its first
			// </KMIP> (see the conformance README): keep what parsed.
			return out, nil
		}
		start, ok := tok.(xml.StartElement)
		if !ok || start.Name.Local == "KMIP" {
			continue
		}
		if start.Name.Local != "RequestMessage" {
			if err := d.Skip(); err != nil {
				return out, nil
			}
			continue
		}
		v, err := opts.DecodeElement(d, start)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, ttlv.Marshal(v))
	}
}

// TestWriteFuzzCorpus regenerates the seed corpus: each request of the
// OASIS vectors whose operations (and major version) no earlier request
// covered, plus badMessageSeeds.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("KMIPD_UPDATE_FUZZ_CORPUS") == "" {
		t.Skip("set KMIPD_UPDATE_FUZZ_CORPUS=1 to regenerate " + fuzzCorpusDir)
	}
	var seeds []corpusSeed
	seen := map[string]bool{}
	for _, set := range []string{"kmip-1.0-1.2/mandatory", "kmip-1.3/mandatory", "kmip-1.4/mandatory", "kmip-1.4/testcases", "kmip-2.0/mandatory", "kmip-2.0/testcases"} {
		files, err := filepath.Glob(filepath.Join(vectorsDir, set, "*.xml"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no vectors in %s: %v", set, err)
		}
		slices.Sort(files)
		for _, file := range files {
			reqs, err := vectorRequests(file)
			if err != nil {
				t.Fatal(err)
			}
			for i, raw := range reqs {
				key, err := corpusKey(raw)
				if err != nil {
					t.Fatalf("%s request %d: %v", file, i, err)
				}
				if seen[key] {
					continue
				}
				seen[key] = true
				name := strings.TrimSuffix(filepath.Base(file), ".xml")
				seeds = append(seeds, corpusSeed{fmt.Sprintf("vector-%s-%d", name, i), raw})
			}
		}
	}
	for _, s := range badMessageSeeds() {
		seeds = append(seeds, corpusSeed{"bad-" + s.name, s.raw})
	}
	if err := os.RemoveAll(fuzzCorpusDir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(fuzzCorpusDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range seeds {
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(s.raw)) + ")\n"
		if err := os.WriteFile(filepath.Join(fuzzCorpusDir, s.name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("wrote %d seeds to %s", len(seeds), fuzzCorpusDir)
}

// corpusKey names what a request exercises: its major version and
// operations.
func corpusKey(raw []byte) (string, error) {
	v, err := ttlv.Decode(raw, ttlv.Limits{})
	if err != nil {
		return "", err
	}
	m, err := ParseRequestMessage(v)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d.x", m.Header.ProtocolVersion.Major)
	for _, it := range m.BatchItems {
		b.WriteString(" " + it.Operation.String())
	}
	return b.String(), nil
}

var corpusNameRE = regexp.MustCompile(`^(vector|bad)-[A-Za-z0-9_.-]+$`)

// TestFuzzCorpus checks the committed corpus: every vector seed is a
// request message that parses, and every seed's response is valid (the
// fuzz target checks that too, but here a failure names the file).
func TestFuzzCorpus(t *testing.T) {
	entries, err := os.ReadDir(fuzzCorpusDir)
	if err != nil {
		t.Fatalf("seed corpus missing: %v", err)
	}
	if len(entries) < 20 {
		t.Fatalf("seed corpus has %d files; regenerate it", len(entries))
	}
	mux := fuzzMux()
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(fuzzCorpusDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if !corpusNameRE.MatchString(e.Name()) {
			t.Errorf("%s: unexpected corpus file name", e.Name())
		}
		lines := strings.SplitN(string(data), "\n", 3)
		if len(lines) < 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") {
			t.Errorf("%s: not a go fuzz v1 []byte file", e.Name())
			continue
		}
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		if err != nil {
			t.Errorf("%s: %v", e.Name(), err)
			continue
		}
		raw := []byte(s)
		if strings.HasPrefix(e.Name(), "vector-") {
			if _, err := corpusKey(raw); err != nil {
				t.Errorf("%s: vector seed does not parse: %v", e.Name(), err)
			}
		}
		if _, err := decodeResponse(HandleMessage(context.Background(), mux, raw, testOpts())); err != nil {
			t.Errorf("%s: %v", e.Name(), err)
		}
	}
}
