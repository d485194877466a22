package objects

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// seed stores n objects named "name-<i>"; see seedObjects.
func seed(b *testing.B, s *BoltStore, n int) {
	b.Helper()
	seedObjects(b, s, n, func(i int) *Object {
		o := newKey(fmt.Sprintf("id-%d", i), nameAttr(fmt.Sprintf("name-%d", i)), algAttr(algAES),
			groupAttr(fmt.Sprintf("group-%d", i%10)),
			kmip.Attribute{Name: "Cryptographic Length", Value: ttlv.Int(kmip.TagCryptographicLength, 256)})
		o.Created, o.Updated, o.Revision = now(), now(), 1
		return o
	})
}

// seedObjects stores n objects made by object(i), in transactions of 500,
// which is much faster than n Creates and gives the same file. (Not in
// one: bbolt splits pages only at commit, and one transaction's entries,
// landing all over the one index bucket, would shift a single growing
// node; see reindex.)
func seedObjects(b *testing.B, s *BoltStore, n int, object func(i int) *Object) {
	b.Helper()
	for start := 0; start < n; start += 500 {
		err := s.db.Update(func(tx *bolt.Tx) error {
			for i := start; i < min(start+500, n); i++ {
				o := object(i)
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
}

func openBench(b *testing.B) *BoltStore {
	b.Helper()
	// Production options: the group commit is part of what is measured.
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

// aesKey is the record kmipd keeps for a generated AES-256 key: the
// attributes service.Create sets (KMIP 1.4 §3), a Name, Cryptographic
// Parameters, a Digest, and 40 bytes of wrapped material (AES-KWP of 32).
func aesKey(id string) *Object {
	t := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	o := newKey(id,
		kmip.Attribute{Name: "Unique Identifier", Value: ttlv.Text(kmip.TagUniqueIdentifier, id)},
		kmip.Attribute{Name: "Object Type", Value: ttlv.Enum(kmip.TagObjectType, uint32(kmip.ObjectTypeSymmetricKey))},
		kmip.Attribute{Name: "State", Value: ttlv.Enum(kmip.TagState, uint32(kmip.StateActive))},
		dateAttr("Initial Date", kmip.TagInitialDate, t),
		dateAttr("Activation Date", kmip.TagActivationDate, t),
		dateAttr("Last Change Date", kmip.TagLastChangeDate, t),
		dateAttr("Original Creation Date", kmip.TagOriginalCreationDate, t),
		kmip.Attribute{Name: "Fresh", Value: ttlv.Bool(kmip.TagFresh, true)},
		kmip.Attribute{Name: "Sensitive", Value: ttlv.Bool(kmip.TagSensitive, false)},
		kmip.Attribute{Name: "Extractable", Value: ttlv.Bool(kmip.TagExtractable, true)},
		algAttr(algAES),
		kmip.Attribute{Name: "Cryptographic Length", Value: ttlv.Int(kmip.TagCryptographicLength, 256)},
		kmip.Attribute{Name: "Cryptographic Usage Mask", Value: ttlv.Int(kmip.TagCryptographicUsageMask, 0x0C)},
		kmip.Attribute{Name: "Cryptographic Parameters", Value: ttlv.Struct(kmip.TagCryptographicParameters,
			ttlv.Enum(kmip.TagBlockCipherMode, 9), // GCM
			ttlv.Enum(kmip.TagPaddingMethod, 1))}, // None
		kmip.Attribute{Name: "Digest", Value: ttlv.Struct(kmip.TagDigest,
			ttlv.Enum(kmip.TagHashingAlgorithm, 6), // SHA-256
			ttlv.Bytes(kmip.TagDigestValue, bytes.Repeat([]byte{0xd1}, 32)),
			ttlv.Enum(kmip.TagKeyFormatType, 1))},
		kmip.Attribute{Name: "Key Format Type", Value: ttlv.Enum(kmip.TagKeyFormatType, 1)},
		nameAttr("payments/"+id),
	)
	o.State = kmip.StateActive
	o.Wrapped.Blob = bytes.Repeat([]byte{0xa5}, 40)
	o.Owner, o.Tenant = "CN=payments-service", "payments"
	o.Created, o.Updated, o.Revision, o.seq = t, t, 3, 17
	return o
}

// BenchmarkDecodeRecord decodes the record of a typical AES-256 key, as
// every Get does.
func BenchmarkDecodeRecord(b *testing.B) {
	rec := encodeRecord(aesKey("6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab"))
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeRecord(bytes.Clone(rec)); err != nil {
			b.Fatal(err)
		}
	}
}

// seedAES stores n aesKey objects "aes-<i>".
func seedAES(b *testing.B, s *BoltStore, n int) {
	b.Helper()
	seedObjects(b, s, n, func(i int) *Object { return aesKey(fmt.Sprintf("aes-%d", i)) })
}

// BenchmarkGetAESKey: Get of a typical AES-256 key among 1,000, the call
// every Get, Encrypt, Decrypt and Sign request makes once. The ids are
// built beforehand so that only Get is measured.
func BenchmarkGetAESKey(b *testing.B) {
	const n = 1000
	s := openBench(b)
	seedAES(b, s, n)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("aes-%d", i)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := s.Get(ctx, ids[i%n]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetAESKeyParallel is BenchmarkGetAESKey from every core.
func BenchmarkGetAESKeyParallel(b *testing.B) {
	const n = 1000
	s := openBench(b)
	seedAES(b, s, n)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("aes-%d", i)
	}
	ctx := context.Background()
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Get(ctx, ids[next.Add(1)%n]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkClone copies a decoded AES-256 key, which Get does instead of
// BenchmarkDecodeRecord when the record has not changed.
func BenchmarkClone(b *testing.B) {
	o, err := decodeRecord(encodeRecord(aesKey("6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab")))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		o.Clone()
	}
}

// BenchmarkMigrateV1 opens a schema 1 store of 20,000 AES keys, which
// builds the index (see buildIndex: put object by object in one
// transaction, 100,000 keys took over ten minutes; in sorted chunks,
// about three seconds).
func BenchmarkMigrateV1(b *testing.B) {
	const n = 20_000
	for b.Loop() {
		b.StopTimer()
		path := filepath.Join(b.TempDir(), "kmipd.db")
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			b.Fatal(err)
		}
		objs := make([]*Object, n)
		for i := range objs {
			objs[i] = aesKey(fmt.Sprintf("0197a000-0000-7000-8000-%012d", i))
			objs[i].seq = uint64(i + 1)
		}
		err = db.Update(func(tx *bolt.Tx) error { return fillV1(tx, objs, encodeRecordV1) })
		if err == nil {
			err = db.Close()
		}
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		s, err := Open(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
}
