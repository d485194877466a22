package objects

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// seed stores n objects named "name-<i>" in one transaction, which is much
// faster than n Creates and gives the same file.
func seed(b *testing.B, s *BoltStore, n int) {
	b.Helper()
	err := s.db.Update(func(tx *bolt.Tx) error {
		for i := range n {
			o := newKey(fmt.Sprintf("id-%d", i), nameAttr(fmt.Sprintf("name-%d", i)), algAttr(algAES),
				groupAttr(fmt.Sprintf("group-%d", i%10)),
				kmip.Attribute{Name: "Cryptographic Length", Value: ttlv.Int(kmip.TagCryptographicLength, 256)})
			o.Created, o.Updated, o.Revision = now(), now(), 1
			seq, err := tx.Bucket(bucketSeq).NextSequence()
			if err != nil {
				return err
			}
			o.seq = seq
			if err := putObject(tx, o, encodeRecord(o), nil, true); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

func openBench(b *testing.B) *BoltStore {
	b.Helper()
	// Production options: the group-commit delay is part of what is measured.
	s, err := Open(filepath.Join(b.TempDir(), "kmipd.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkCreate measures fsynced creates from many goroutines sharing
// commits.
func BenchmarkCreate(b *testing.B) {
	s := openBench(b)
	ctx := context.Background()
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			id := fmt.Sprintf("bench-%d", i)
			if err := s.Create(ctx, newKey(id, nameAttr(id), algAttr(algAES))); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkLocateByName10k: Locate by exact Name among 10,000 objects; the
// goal is at least 10,000 locates per second on 2 cores.
func BenchmarkLocateByName10k(b *testing.B) {
	s := openBench(b)
	seed(b, s, 10_000)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		want := fmt.Sprintf("name-%d", i%10_000)
		ids, err := s.Locate(ctx, Query{Filters: []Filter{Equals(attrName, ttlv.Text(kmip.TagNameValue, want))}})
		if err != nil || len(ids) != 1 {
			b.Fatalf("Locate %s = %v, %v", want, ids, err)
		}
	}
}

// BenchmarkLocateGroup10k: a less selective index (1,000 of 10,000 match),
// first page of 100.
func BenchmarkLocateGroup10k(b *testing.B) {
	s := openBench(b)
	seed(b, s, 10_000)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		q := Query{MaxItems: 100, Filters: []Filter{Equals(attrObjectGroup, ttlv.Text(kmip.TagObjectGroup, fmt.Sprintf("group-%d", i%10)))}}
		if ids, err := s.Locate(ctx, q); err != nil || len(ids) != 100 {
			b.Fatalf("Locate = %d, %v", len(ids), err)
		}
	}
}

func BenchmarkGet(b *testing.B) {
	s := openBench(b)
	seed(b, s, 10_000)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := s.Get(ctx, fmt.Sprintf("id-%d", i%10_000)); err != nil {
			b.Fatal(err)
		}
	}
}
