package ttlv

import (
	"bytes"
	"errors"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"
)

func TestRoundTripBenchMessages(t *testing.T) {
	for _, name := range benchFiles {
		t.Run(name, func(t *testing.T) {
			b := benchMessage(t, name)
			v, err := Decode(b, Limits{})
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got := v.EncodedLen(); got != len(b) {
				t.Errorf("EncodedLen = %d, want %d", got, len(b))
			}
			if out := Marshal(v); !bytes.Equal(out, b) {
				t.Errorf("Marshal(Decode(b)) differs from b:\n got %x\nwant %x", out, b)
			}
			if out := Append([]byte("prefix"), v); !bytes.Equal(out[6:], b) || string(out[:6]) != "prefix" {
				t.Errorf("Append did not append the encoding")
			}
		})
	}
}

func TestRoundTripRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 2000
	if testing.Short() {
		n = 300
	}
	for i := range n {
		v := genValue(r, genOptions{maxDepth: 5}, 0)
		b := Marshal(v)
		if len(b) != v.EncodedLen() {
			t.Fatalf("#%d: len(Marshal) = %d, EncodedLen = %d", i, len(b), v.EncodedLen())
		}
		got, err := Decode(b, Limits{})
		if err != nil {
			t.Fatalf("#%d: Decode(Marshal(v)): %v\n%s", i, err, Format(v, nil))
		}
		if !Equal(got, v) {
			t.Fatalf("#%d: round trip differs:\n got %s\nwant %s", i, Format(got, nil), Format(v, nil))
		}
		if b2 := Marshal(got); !bytes.Equal(b, b2) {
			t.Fatalf("#%d: re-encoding differs", i)
		}
	}
}

func TestDecodePrimitives(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 678901000, time.UTC)
	tests := []struct {
		name string
		v    Value
		hex  string
	}{
		{"integer", Int(0x42006A, -2), "42006A02 00000004 FFFFFFFE 00000000"},
		{"long", Long(0x42006A, -2), "42006A03 00000008 FFFFFFFF FFFFFFFE"},
		{"bigint", BigInt(0x42006A, big.NewInt(-1)), "42006A04 00000008 FFFFFFFF FFFFFFFF"},
		{"bigint 2^63", BigInt(0x42006A, new(big.Int).Lsh(big.NewInt(1), 63)), "42006A04 00000010 00000000 00000000 80000000 00000000"},
		{"enum", Enum(0x42006A, 0x80000001), "42006A05 00000004 80000001 00000000"},
		{"bool", Bool(0x42006A, true), "42006A06 00000008 00000000 00000001"},
		{"text", Text(0x42006A, "Hello"), "42006A07 00000005 48656C6C 6F000000"},
		{"empty text", Text(0x42006A, ""), "42006A07 00000000"},
		{"bytes", Bytes(0x42006A, []byte{1, 2, 3, 4, 5, 6, 7, 8}), "42006A08 00000008 01020304 05060708"},
		{"datetime", DateTime(0x42006A, now), "42006A09 00000008 00000000 695735A5"},
		{"interval", Interval(0x42006A, 3600), "42006A0A 00000004 00000E10 00000000"},
		{"datetime extended", DateTimeExtended(0x42006A, now), "42006A0B 00000008 0006475E F6574F35"},
		{"empty structure", Struct(0x420078), "42007801 00000000"},
		{"structure", Struct(0x420078, Int(0x42006A, 1), Struct(0x420077)), "42007801 00000018 42006A02 00000004 00000001 00000000 42007701 00000000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := mustHex(t, tc.hex)
			if got := Marshal(tc.v); !bytes.Equal(got, b) {
				t.Errorf("Marshal = %X, want %X", got, b)
			}
			v, err := Decode(b, Limits{})
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !Equal(v, tc.v) {
				t.Errorf("Decode = %v, want %v", v, tc.v)
			}
		})
	}
}

func TestDecodeAccessors(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 678901000, time.UTC)
	msg := Marshal(Struct(0x420078,
		Int(1, -7), Long(2, -8), Enum(3, 9), Bool(4, true), Text(5, "héllo"),
		Bytes(6, []byte{0xAA}), DateTime(7, now), DateTimeExtended(8, now),
		Interval(9, 60), BigInt(10, big.NewInt(-300)),
	))
	v, err := Decode(msg, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	c := v.Children()
	if c[0].Int() != -7 || c[1].Long() != -8 || c[2].Enum() != 9 || !c[3].Bool() ||
		c[4].Text() != "héllo" || !bytes.Equal(c[5].Bytes(), []byte{0xAA}) ||
		!c[6].Time().Equal(now.Truncate(time.Second)) || !c[7].Time().Equal(now.Truncate(time.Microsecond)) ||
		c[8].Interval() != 60 || c[9].BigInt().Int64() != -300 {
		t.Errorf("accessors disagree:\n%s", Format(v, nil))
	}
	// Aliased content must not let an append spill into the next item.
	b := c[5].Bytes()
	_ = append(b, 0xFF)
	if !bytes.Equal(msg, Marshal(v)) {
		t.Errorf("append to a decoded byte string changed the input")
	}
}

func TestDecodeStrict(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		lim  Limits
		want error
	}{
		{"empty input", "", Limits{}, ErrTruncated},
		{"short header", "42007801 0000", Limits{}, ErrTruncated},
		{"root length beyond input", "42007801 00000018 42006A02 00000004 00000001 00000000", Limits{}, ErrTruncated},
		{"trailing bytes", "42007801 00000000 00000000 00000000", Limits{}, ErrBadLength},
		{"structure length not multiple of 8", "42007801 00000004 00000000 00000000", Limits{}, ErrBadLength},
		{"child exceeds structure", "42007801 00000018 42007701 00000008 42006A07 00000005 41424344 45000000", Limits{}, ErrBadLength},
		{"structure shorter than its children", "42007801 00000010 42007701 00000010 42006A07 00000000 42006A07 00000000", Limits{}, ErrBadLength},
		{"integer length 8", "42007801 00000010 42006A02 00000008 00000000 00000001", Limits{}, ErrBadLength},
		{"enumeration length 8", "42007801 00000010 42006A05 00000008 00000000 00000001", Limits{}, ErrBadLength},
		{"interval length 8", "42007801 00000010 42006A0A 00000008 00000000 00000001", Limits{}, ErrBadLength},
		{"long integer length 4", "42007801 00000010 42006A03 00000004 00000001 00000000", Limits{}, ErrBadLength},
		{"boolean length 4", "42007801 00000010 42006A06 00000004 00000001 00000000", Limits{}, ErrBadLength},
		{"date-time length 4", "42007801 00000010 42006A09 00000004 00000001 00000000", Limits{}, ErrBadLength},
		{"date-time extended length 4", "42007801 00000010 42006A0B 00000004 00000001 00000000", Limits{}, ErrBadLength},
		{"big integer length 4", "42007801 00000010 42006A04 00000004 00000001 00000000", Limits{}, ErrBadLength},
		{"big integer length 12", "42007801 00000018 42006A04 0000000C 00000000 00000000 00000001 00000000", Limits{}, ErrBadLength},
		{"integer padding", "42007801 00000010 42006A02 00000004 00000001 00000001", Limits{}, ErrBadPadding},
		{"text padding", "42007801 00000010 42006A07 00000005 41424344 45000100", Limits{}, ErrBadPadding},
		{"bytes padding", "42007801 00000010 42006A08 00000001 41000000 00000080", Limits{}, ErrBadPadding},
		{"boolean 2", "42007801 00000010 42006A06 00000008 00000000 00000002", Limits{}, ErrBadValue},
		{"boolean high bit", "42007801 00000010 42006A06 00000008 80000000 00000001", Limits{}, ErrBadValue},
		{"text not UTF-8", "42007801 00000010 42006A07 00000002 C328 0000 00000000", Limits{}, ErrBadValue},
		{"type 0x00", "42007801 00000010 42006A00 00000004 00000001 00000000", Limits{}, ErrBadType},
		{"type 0x0C", "42007801 00000010 42006A0C 00000004 00000001 00000000", Limits{}, ErrBadType},
		{"too large", "42007801 00000010 42006A02 00000004 00000001 00000000", Limits{MaxMessageSize: 16}, ErrTooLarge},
		{"too many items", "42007801 00000020 42006A02 00000004 00000001 00000000 42006A02 00000004 00000001 00000000", Limits{MaxItems: 2}, ErrTooManyItems},
		{"too deep", "42007801 00000010 42007701 00000008 42007601 00000000", Limits{MaxDepth: 2}, ErrTooDeep},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(mustHex(t, tc.hex), tc.lim)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode error = %v, want %v", err, tc.want)
			}
			if cerr := Check(mustHex(t, tc.hex), tc.lim); cerr == nil || cerr.Error() != err.Error() {
				t.Errorf("Check error = %v, want Decode's %v", cerr, err)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Errorf("error %T is not a *SyntaxError", err)
			}
			if !IsEncodingError(err) {
				t.Errorf("IsEncodingError(%v) = false", err)
			}
		})
	}
}

func TestDecodeLimitsAtBoundary(t *testing.T) {
	b := mustHex(t, "42007801 00000010 42007701 00000008 42007601 00000000")
	if _, err := Decode(b, Limits{MaxDepth: 3, MaxItems: 3, MaxMessageSize: len(b)}); err != nil {
		t.Errorf("Decode at exactly the limits: %v", err)
	}
	// Default depth: 32 nested structures pass, 33 do not.
	nest := func(n int) []byte {
		v := Struct(0x420001)
		for range n - 1 {
			v = Struct(0x420001, v)
		}
		return Marshal(v)
	}
	if _, err := Decode(nest(DefaultMaxDepth), Limits{}); err != nil {
		t.Errorf("depth %d: %v", DefaultMaxDepth, err)
	}
	if _, err := Decode(nest(DefaultMaxDepth+1), Limits{}); !errors.Is(err, ErrTooDeep) {
		t.Errorf("depth %d: err = %v, want ErrTooDeep", DefaultMaxDepth+1, err)
	}
}

func TestSyntaxErrorMessage(t *testing.T) {
	_, err := Decode(mustHex(t, "42007801 00000018 42006902 00000008 00000000 00000001 00000000 00000000"), Limits{})
	want := "ttlv: offset 8, tag 0x420069: Integer length 8, want 4"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}

func TestDecodeEveryPrefixFails(t *testing.T) {
	msgs := [][]byte{Marshal(genValue(rand.New(rand.NewPCG(3, 4)), genOptions{maxDepth: 4}, 0))}
	for _, name := range benchFiles {
		msgs = append(msgs, benchMessage(t, name))
	}
	for _, b := range msgs {
		for n := range len(b) {
			p := bytes.Clone(b[:n])
			if _, err := Decode(p, Limits{}); err == nil {
				t.Fatalf("Decode of a %d-byte prefix of a %d-byte message succeeded", n, len(b))
			} else if !IsEncodingError(err) {
				t.Fatalf("prefix %d: error %v is not an encoding error", n, err)
			}
		}
	}
}

func TestDecodeRandomBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	base := Marshal(genValue(r, genOptions{maxDepth: 4}, 0))
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for range n {
		var b []byte
		if r.IntN(2) == 0 {
			b = genBytes(r, r.IntN(64))
		} else {
			// Mutate a valid message, which gets past the first header.
			b = bytes.Clone(base)
			for range 1 + r.IntN(3) {
				b[r.IntN(len(b))] = byte(r.Uint32())
			}
		}
		v, err := Decode(b, Limits{})
		if err != nil {
			if !IsEncodingError(err) {
				t.Fatalf("error %v is not an encoding error", err)
			}
			continue
		}
		if !bytes.Equal(Marshal(v), b) {
			t.Fatalf("accepted input %x does not re-encode to itself", b)
		}
	}
}

func TestDecodeAllocations(t *testing.T) {
	for _, name := range benchFiles {
		b := benchMessage(t, name)
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := Decode(b, Limits{}); err != nil {
				t.Fatal(err)
			}
		})
		if allocs > 1 {
			t.Errorf("%s: Decode allocates %v times, want 1 (the arena)", name, allocs)
		}
		allocs = testing.AllocsPerRun(100, func() {
			if err := Check(b, Limits{}); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: Check allocates %v times, want 0", name, allocs)
		}
		v, _ := Decode(b, Limits{})
		buf := make([]byte, 0, 1024)
		allocs = testing.AllocsPerRun(100, func() { buf = Append(buf[:0], v) })
		if allocs != 0 {
			t.Errorf("%s: Append into a large enough buffer allocates %v times", name, allocs)
		}
	}
}

func TestEncoderMatchesMarshal(t *testing.T) {
	now := time.Unix(1767322845, 123456000)
	x := new(big.Int).Lsh(big.NewInt(-3), 70)
	want := Struct(tagRequestMessage,
		Struct(tagRequestHeader, Int(tagProtocolVersionMajor, 1), Long(2, -9), Enum(3, 4), Bool(4, true)),
		Text(5, "abc"), Bytes(6, []byte{1, 2, 3}), BigInt(7, x), BigIntRaw(8, []byte{0x80, 1}),
		DateTime(9, now), DateTimeExtended(10, now), Interval(11, 5), Struct(12),
		Text(13, "αβγ"),
	)
	var e Encoder
	e.Structure(tagRequestMessage, func(e *Encoder) {
		e.Structure(tagRequestHeader, func(e *Encoder) {
			e.Int(tagProtocolVersionMajor, 1)
			e.Long(2, -9)
			e.Enum(3, 4)
			e.Bool(4, true)
		})
		e.Text(5, "abc")
		e.ByteString(6, []byte{1, 2, 3})
		e.BigInt(7, x)
		e.BigIntRaw(8, []byte{0x80, 1})
		e.DateTime(9, now)
		e.DateTimeExtended(10, now)
		e.Interval(11, 5)
		m := e.Begin(12)
		e.End(m)
		e.Value(Text(13, "αβγ"))
	})
	if !bytes.Equal(e.Bytes(), Marshal(want)) {
		t.Fatalf("Encoder output\n%X\ndiffers from Marshal\n%X", e.Bytes(), Marshal(want))
	}
	if e.Len() != want.EncodedLen() {
		t.Errorf("Len = %d, want %d", e.Len(), want.EncodedLen())
	}
	v, err := Decode(e.Bytes(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	// BigIntRaw of 2 bytes is sign-extended to 8 on the wire.
	if got := v.Children()[4].BigInt(); got.Cmp(big.NewInt(-32767)) != 0 {
		t.Errorf("sign-extended big integer = %v, want -32767", got)
	}
	e.Reset()
	if e.Len() != 0 {
		t.Errorf("Reset left %d bytes", e.Len())
	}
	if got := NewEncoder([]byte{9}); got.Len() != 1 {
		t.Errorf("NewEncoder does not append to dst")
	}
}

func TestEncoderAllocations(t *testing.T) {
	e := NewEncoder(make([]byte, 0, 512))
	allocs := testing.AllocsPerRun(100, func() {
		e.Reset()
		e.Structure(tagRequestMessage, func(e *Encoder) {
			e.Int(tagBatchCount, 1)
			e.Text(tagUniqueIdentifier, "7d3c9a52-0f4e-4b8a-9c21-5e6f7a8b9c0d")
		})
	})
	if allocs != 0 {
		t.Errorf("Encoder allocates %v times into a large enough buffer", allocs)
	}
}

// TestEncoderGrow: after Grow(n), writing n bytes does not reallocate;
// Grow of nothing does nothing, and Grow keeps what was written.
func TestEncoderGrow(t *testing.T) {
	for _, tc := range []struct {
		name     string
		pre      int // bytes written before Grow
		grow     int
		wantCap0 bool // the buffer is still unallocated after Grow
	}{
		{"zero on empty", 0, 0, true},
		{"negative on empty", 0, -5, true},
		{"small", 0, 16, false},
		{"large", 0, 5000, false},
		{"after content", 16, 5000, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e Encoder
			for range tc.pre / 16 {
				e.Int(tagBatchCount, 1)
			}
			before := bytes.Clone(e.Bytes())
			e.Grow(tc.grow)
			if got := cap(e.Bytes()) == 0; got != tc.wantCap0 {
				t.Fatalf("cap after Grow(%d) = %d", tc.grow, cap(e.Bytes()))
			}
			if !bytes.Equal(e.Bytes(), before) {
				t.Fatalf("Grow changed the content")
			}
			if tc.grow <= 0 {
				return
			}
			// A Byte String of grow-8 bytes (a multiple of 8) takes grow
			// bytes with its header.
			first := &e.Bytes()[:1][0]
			e.ByteString(tagKeyMaterial, make([]byte, (tc.grow-headerLen)&^7))
			if &e.Bytes()[0] != first {
				t.Errorf("writing %d bytes after Grow(%d) reallocated", e.Len()-tc.pre, tc.grow)
			}
		})
	}
}

func TestTypeAndTagStrings(t *testing.T) {
	for typ := TypeStructure; typ <= TypeDateTimeExtended; typ++ {
		got, ok := ParseType(typ.String())
		if !ok || got != typ {
			t.Errorf("ParseType(%q) = %v, %v", typ.String(), got, ok)
		}
	}
	if s := Type(0x0C).String(); s != "0x0C" {
		t.Errorf("Type(0x0C).String() = %q", s)
	}
	if _, ok := ParseType("Foo"); ok {
		t.Errorf("ParseType accepted Foo")
	}
	for _, tc := range []struct {
		in   string
		want Tag
		ok   bool
	}{
		{"0x42006A", 0x42006A, true}, {"0X54ffff", 0x54FFFF, true}, {"0x1", 1, true},
		{"42006A", 0, false}, {"0x", 0, false}, {"0x1234567", 0, false}, {"0xZZ", 0, false},
	} {
		got, ok := ParseTag(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseTag(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	if s := Tag(0x42006A).String(); s != "0x42006A" {
		t.Errorf("Tag.String() = %q", s)
	}
}

func TestIsEncodingError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("x"), false},
		{ErrTruncated, true},
		{&SyntaxError{Err: ErrBadLength}, true},
		{&HeaderError{Err: ErrTooLarge}, true},
		{&SyntaxError{Err: errors.New("hook failed")}, true},
	} {
		if got := IsEncodingError(tc.err); got != tc.want {
			t.Errorf("IsEncodingError(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// When the Encoder outgrows its buffer it must zero what it wrote there
// (key material), but not the caller's bytes before it.
func TestEncoderClearsOutgrownBuffer(t *testing.T) {
	dst := make([]byte, 0, 40)
	dst = append(dst, "caller"...)
	e := NewEncoder(dst)
	secret := []byte{0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8}
	e.ByteString(tagKeyMaterial, secret)
	old := dst[:cap(dst)]
	if !bytes.Contains(old, secret) {
		t.Fatal("test setup: the secret is not in the first buffer")
	}
	e.Text(tagUniqueIdentifier, "a long enough text to force the buffer to grow")
	if string(old[:6]) != "caller" {
		t.Errorf("the caller's bytes were changed: %q", old[:6])
	}
	if !bytes.Equal(old[6:], make([]byte, len(old)-6)) {
		t.Errorf("outgrown buffer still holds %x", old[6:])
	}
	if !bytes.Contains(e.Bytes(), secret) || string(e.Bytes()[:6]) != "caller" {
		t.Errorf("new buffer lost content")
	}

	var w wbuf
	w.str("secret")
	old = w.b[:cap(w.b)]
	w.grow(cap(w.b) + 1)
	if !bytes.Equal(old, make([]byte, len(old))) || string(w.b) != "secret" {
		t.Errorf("wbuf.grow: old %q, new %q", old[:6], w.b)
	}
}

// BigInt must sign-extend minimally to a multiple of 8 bytes (KMIP 1.4
// §9.1.1.4), including at the edges -2^(8k-1) and 2^(8k-1).
func TestBigIntMinimalSignExtension(t *testing.T) {
	var xs []*big.Int
	for _, k := range []uint{0, 7, 8, 63, 64, 127, 128, 200} {
		p := new(big.Int).Lsh(big.NewInt(1), k)
		for _, d := range []int64{-1, 0, 1} {
			y := new(big.Int).Add(p, big.NewInt(d))
			xs = append(xs, y, new(big.Int).Neg(y))
		}
	}
	r := rand.New(rand.NewPCG(15, 16))
	for range 200 {
		x := new(big.Int).SetBytes(genBytes(r, r.IntN(30)))
		if r.IntN(2) == 0 {
			x.Neg(x)
		}
		xs = append(xs, x)
	}
	for _, x := range xs {
		b := BigInt(1, x).Bytes()
		if got := bigIntFromBytes(b); got.Cmp(x) != 0 {
			t.Fatalf("%v encodes to %x, which reads back as %v", x, b, got)
		}
		if len(b) == 0 || len(b)%8 != 0 {
			t.Fatalf("%v encodes to %d bytes", x, len(b))
		}
		if len(b) > 8 && bigIntFromBytes(b[8:]).Cmp(x) == 0 {
			t.Fatalf("%v encodes to %x, not minimal", x, b)
		}
	}
}
