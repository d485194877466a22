package ttlv

import (
	"bytes"
	"math/big"
	"math/rand/v2"
	"testing"

	gttlv "github.com/gemalto/kmip-go/ttlv"
)

// Differential tests against gemalto/kmip-go's codec, the reference the
// style guide names: our encoding must read the same through its byte view,
// and its encoder's output must decode with ours.

// compareGemalto walks our Value and gemalto's view of the same bytes item
// by item.
func compareGemalto(t *testing.T, path string, v Value, g gttlv.TTLV) {
	t.Helper()
	if err := g.Valid(); err != nil {
		t.Fatalf("%s: gemalto says invalid: %v", path, err)
	}
	if uint32(g.Tag()) != uint32(v.Tag) || byte(g.Type()) != byte(v.Type) {
		t.Fatalf("%s: gemalto sees tag %v type %v, we have %v %v", path, g.Tag(), g.Type(), v.Tag, v.Type)
	}
	ok := true
	switch v.Type {
	case TypeStructure:
		c := g.ValueStructure()
		for i, kid := range v.Children() {
			if len(c) == 0 {
				t.Fatalf("%s: gemalto sees %d children, we have %d", path, i, len(v.Children()))
			}
			compareGemalto(t, path+"/"+kid.Tag.String(), kid, c)
			c = c.Next()
		}
		if len(c) != 0 {
			t.Fatalf("%s: gemalto sees more children than our %d", path, len(v.Children()))
		}
	case TypeInteger:
		ok = g.ValueInteger() == v.Int()
	case TypeLongInteger, TypeDateTime, TypeDateTimeExtended:
		ok = g.ValueLongInteger() == v.Long()
	case TypeBigInteger:
		ok = bytes.Equal(g.ValueRaw(), v.Bytes()) && g.ValueBigInteger().Cmp(v.BigInt()) == 0
	case TypeEnumeration:
		ok = uint32(g.ValueEnumeration()) == v.Enum()
	case TypeBoolean:
		ok = g.ValueBoolean() == v.Bool()
	case TypeTextString:
		ok = g.ValueTextString() == v.Text()
	case TypeByteString:
		ok = bytes.Equal(g.ValueByteString(), v.Bytes())
	case TypeInterval:
		ok = int64(g.ValueInterval().Seconds()) == int64(v.Interval())
	}
	if !ok {
		t.Fatalf("%s: gemalto reads %v, we have %v", path, g.Value(), v)
	}
}

// sameModuloBigInt is Equal, except that Big Integers compare by value:
// gemalto re-encodes them with minimal sign extension.
func sameModuloBigInt(a, b Value) bool {
	if a.Tag != b.Tag || a.Type != b.Type {
		return false
	}
	switch a.Type {
	case TypeStructure:
		if len(a.Children()) != len(b.Children()) {
			return false
		}
		for i := range a.Children() {
			if !sameModuloBigInt(a.Children()[i], b.Children()[i]) {
				return false
			}
		}
		return true
	case TypeBigInteger:
		return a.BigInt().Cmp(b.BigInt()) == 0
	default:
		return Equal(a, b)
	}
}

// gemaltoReencode decodes b into gemalto's generic Value and encodes that
// again with gemalto's encoder.
func gemaltoReencode(t *testing.T, b []byte) []byte {
	t.Helper()
	var gv gttlv.Value
	if err := gttlv.Unmarshal(b, &gv); err != nil {
		t.Fatalf("gemalto Unmarshal: %v", err)
	}
	out, err := gttlv.Marshal(gv)
	if err != nil {
		t.Fatalf("gemalto Marshal: %v", err)
	}
	return out
}

func TestGemaltoDifferentialBench(t *testing.T) {
	for _, name := range benchFiles {
		t.Run(name, func(t *testing.T) {
			b := benchMessage(t, name)
			v, err := Decode(b, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			compareGemalto(t, "", v, gttlv.TTLV(Marshal(v)))
			gb := gemaltoReencode(t, b)
			if !bytes.Equal(gb, b) {
				t.Errorf("gemalto re-encoding differs from the input:\n got %x\nwant %x", gb, b)
			}
			got, err := Decode(gb, Limits{})
			if err != nil {
				t.Fatalf("Decode of gemalto's encoding: %v", err)
			}
			if !Equal(got, v) {
				t.Errorf("gemalto's encoding decodes to\n%v\nwant\n%v", got, v)
			}
		})
	}
}

func TestGemaltoDifferentialRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	n := 500
	if testing.Short() {
		n = 100
	}
	for i := range n {
		v := genValue(r, genOptions{sane: true, nonEmptyBytes: true, maxDepth: 4}, 0)
		b := Marshal(v)
		compareGemalto(t, "", v, gttlv.TTLV(b))
		gb := gemaltoReencode(t, b)
		got, err := Decode(gb, Limits{})
		if err != nil {
			t.Fatalf("#%d: Decode of gemalto's encoding: %v\n%x", i, err, gb)
		}
		if !sameModuloBigInt(got, v) {
			t.Fatalf("#%d: gemalto's encoding decodes to\n%s\nwant\n%s", i, Format(got, nil), Format(v, nil))
		}
	}
}

// gemalto's encoder writes Big Integers with minimal sign extension; check
// that we read its output of awkward values right.
func TestGemaltoBigIntegers(t *testing.T) {
	for _, s := range []string{"0", "1", "-1", "127", "128", "-128", "-129", "18446744073709551615", "-18446744073709551616", "9223372036854775808", "-9223372036854775808", "-9223372036854775809"} {
		x, _ := new(big.Int).SetString(s, 10)
		gb, err := gttlv.Marshal(gttlv.NewValue(gttlv.Tag(0x420001), x))
		if err != nil {
			t.Fatal(err)
		}
		v, err := Decode(gb, Limits{})
		if err != nil {
			t.Fatalf("%s: Decode(%x): %v", s, []byte(gb), err)
		}
		if v.BigInt().Cmp(x) != 0 {
			t.Errorf("%s: decoded %v", s, v.BigInt())
		}
		if ours := Marshal(BigInt(0x420001, x)); !bytes.Equal(ours, gb) {
			t.Errorf("%s: we encode %x, gemalto %x", s, ours, []byte(gb))
		}
	}
}
