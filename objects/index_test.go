package objects

import (
	"bytes"
	"context"
	"math"
	"math/big"
	"testing"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// The custom index is only a shortcut if it finds exactly what the record
// check accepts: valueKey equality must coincide with valueMatches.
func TestValueKeyAgreesWithMatch(t *testing.T) {
	const tag = kmip.TagAttributeValue
	now := time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)
	values := []ttlv.Value{
		ttlv.Int(tag, 1), ttlv.Int(tag, -1), ttlv.Int(0x420001, 1),
		ttlv.Long(tag, 1), ttlv.Long(tag, -1),
		ttlv.Enum(tag, 1), ttlv.Bool(tag, true), ttlv.Bool(tag, false),
		ttlv.Interval(tag, 1),
		ttlv.Text(tag, ""), ttlv.Text(tag, "a"), ttlv.Text(tag, "ab"),
		ttlv.Bytes(tag, nil), ttlv.Bytes(tag, []byte("a")),
		ttlv.BigInt(tag, big.NewInt(1)), ttlv.BigInt(tag, big.NewInt(-1)),
		ttlv.DateTime(tag, now), ttlv.DateTimeExtended(tag, now),
		ttlv.DateTimeExtended(tag, now.Add(time.Microsecond)), ttlv.DateTime(tag, now.Add(time.Second)),
	}
	for _, w := range values {
		wk, ok := valueKey(w)
		if !ok {
			t.Fatalf("no key for %+v", w)
		}
		for _, h := range values {
			hk, _ := valueKey(h)
			if m, k := valueMatches("x-a", w, h), bytes.Equal(wk, hk); m != k {
				t.Errorf("want %+v have %+v: match %v, keys equal %v", w, h, m, k)
			}
		}
	}
	if _, ok := valueKey(ttlv.Struct(tag)); ok {
		t.Error("a structure has an index key")
	}
}

func TestLocateCustomKinds(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	at := time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)
	const tag = kmip.TagAttributeValue
	bulkCreate(t, s,
		newKey("date", customAttr("x-when", ttlv.DateTime(tag, at))),
		newKey("bytes", customAttr("x-raw", ttlv.Bytes(tag, []byte{0, 0xff}))),
		newKey("struct", customAttr("x-s", ttlv.Struct(tag, ttlv.Int(0x540100, 1), ttlv.Int(0x540101, 2)))),
		newKey("far", dateAttr(attrDeactivationDate, kmip.TagDeactivationDate, time.Unix(math.MaxInt64/2, 0))),
	)
	tests := []struct {
		name string
		f    Filter
		want []string
	}{
		{"custom date, extended form", Equals("x-when", ttlv.DateTimeExtended(tag, at)), []string{"date"}},
		{"custom date range", Between("x-when", at, at), []string{"date"}},
		{"custom bytes", Equals("x-raw", ttlv.Bytes(tag, []byte{0, 0xff})), []string{"bytes"}},
		{"custom structure subset", Equals("x-s", ttlv.Struct(tag, ttlv.Int(0x540101, 2))), []string{"struct"}},
		{"custom structure mismatch", Equals("x-s", ttlv.Struct(tag, ttlv.Int(0x540101, 3))), nil},
		{"largest date-time", Equals(attrDeactivationDate, ttlv.DateTime(kmip.TagDeactivationDate, time.Unix(math.MaxInt64/2, 0))), []string{"far"}},
		{"range up to far future", Between(attrDeactivationDate, at, time.Unix(math.MaxInt64/2, 0)), []string{"far"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids, err := s.Locate(ctx, Query{Filters: []Filter{tt.f}})
			if err != nil || !equalIDs(ids, tt.want) {
				t.Errorf("Locate = %v, %v; want %v", ids, err, tt.want)
			}
		})
	}
}
