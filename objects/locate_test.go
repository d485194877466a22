package objects

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

var (
	t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	t1 = t0.Add(24 * time.Hour)
	t2 = t0.Add(48 * time.Hour)
)

const (
	algDES3 = 2
	algAES  = 3
	algRSA  = 4
)

func usageMask(m int32) kmip.Attribute {
	return kmip.Attribute{Name: attrUsageMask, Value: ttlv.Int(kmip.TagCryptographicUsageMask, m)}
}

func length(n int32) kmip.Attribute {
	return kmip.Attribute{Name: "Cryptographic Length", Value: ttlv.Int(kmip.TagCryptographicLength, n)}
}

func link(typ uint32, id string) kmip.Attribute {
	return kmip.Attribute{Name: "Link", Value: ttlv.Struct(kmip.TagLink,
		ttlv.Enum(kmip.TagLinkType, typ), ttlv.Text(kmip.TagLinkedObjectIdentifier, id))}
}

// locateFixture stores six objects, created in the order a to f, so that
// Locate answers newest first: f e d c b a. On-line are a, b, c; d is
// archived, e destroyed, f destroyed-compromised and archived.
func locateFixture(t *testing.T) *BoltStore {
	s, _ := openTest(t)
	a := newKey("a", nameAttr("alpha"), algAttr(algAES), groupAttr("g1"),
		customAttr("x-env", ttlv.Text(kmip.TagAttributeValue, "prod")), usageMask(0b1100),
		dateAttr("Initial Date", kmip.TagInitialDate, t0), dateAttr(attrActivationDate, kmip.TagActivationDate, t1),
		length(256), link(0x103, "b"))
	b := newKey("b", nameAttr("beta"), algAttr(algDES3), groupAttr("g1"),
		customAttr("x-env", ttlv.Text(kmip.TagAttributeValue, "dev")), usageMask(0b0100),
		dateAttr("Initial Date", kmip.TagInitialDate, t1), dateAttr(attrActivationDate, kmip.TagActivationDate, t2),
		length(128))
	b.Owner, b.Tenant = "bob", "t2"
	c := newKey("c", nameAttr("gamma"), nameAttr("alias"), algAttr(algRSA), groupAttr("g2"),
		customAttr("y-flag", ttlv.Bool(kmip.TagAttributeValue, true)),
		customAttr("acme:tier", ttlv.Text(kmip.TagAttributeValue, "gold")),
		dateAttr("Initial Date", kmip.TagInitialDate, t2))
	c.ObjectType, c.State = kmip.ObjectTypePrivateKey, kmip.StateActive
	c.Attributes[1].Index = 1
	d := newKey("d", nameAttr("delta"))
	d.ObjectType, d.Archived, d.Wrapped, d.Public = kmip.ObjectTypeCertificate, true, nil, []byte("cert")
	e := newKey("e", nameAttr("eps"), algAttr(algAES))
	e.State, e.Wrapped = kmip.StateDestroyed, nil
	f := newKey("f", nameAttr("phi"), algAttr(algAES))
	f.State, f.Wrapped, f.Archived = kmip.StateDestroyedCompromised, nil, true
	bulkCreate(t, s, a, b, c, d, e, f)
	return s
}

func TestLocateFilters(t *testing.T) {
	s := locateFixture(t)
	text := func(s string) ttlv.Value { return ttlv.Text(kmip.TagAttributeValue, s) }
	all := StorageOnLine | StorageArchival | StorageDestroyed
	tests := []struct {
		name string
		q    Query
		want []string
	}{
		{"everything on-line, newest first", Query{}, []string{"c", "b", "a"}},
		{"every storage kind", Query{Storage: all}, []string{"f", "e", "d", "c", "b", "a"}},
		{"archived only", Query{Storage: StorageArchival}, []string{"d"}},
		{"destroyed only", Query{Storage: StorageDestroyed}, []string{"e"}},
		{"archived or destroyed", Query{Storage: StorageArchival | StorageDestroyed}, []string{"f", "e", "d"}},
		{"on-line and archived", Query{Storage: StorageOnLine | StorageArchival}, []string{"d", "c", "b", "a"}},

		{"name structure", Query{Filters: []Filter{Equals(attrName, nameAttr("beta").Value)}}, []string{"b"}},
		{"name text", Query{Filters: []Filter{Equals(attrName, ttlv.Text(kmip.TagNameValue, "alpha"))}}, []string{"a"}},
		{"second name instance", Query{Filters: []Filter{Equals(attrName, ttlv.Text(0, "alias"))}}, []string{"c"}},
		{"name prefix is no match", Query{Filters: []Filter{Equals(attrName, ttlv.Text(0, "alph"))}}, nil},
		{"name of archived, default mask", Query{Filters: []Filter{Equals(attrName, ttlv.Text(0, "delta"))}}, nil},
		{"name of archived, archival mask", Query{Storage: StorageArchival, Filters: []Filter{Equals(attrName, ttlv.Text(0, "delta"))}}, []string{"d"}},
		{"name structure, type only", Query{Filters: []Filter{Equals(attrName, ttlv.Struct(kmip.TagName, ttlv.Enum(kmip.TagNameType, 1)))}}, []string{"c", "b", "a"}},
		{"name structure, other type", Query{Filters: []Filter{Equals(attrName, ttlv.Struct(kmip.TagName, ttlv.Text(kmip.TagNameValue, "alpha"), ttlv.Enum(kmip.TagNameType, 2)))}}, nil},

		{"object type set", Query{ObjectTypes: []kmip.ObjectType{kmip.ObjectTypeSymmetricKey}}, []string{"b", "a"}},
		{"object types set, all storage", Query{Storage: all, ObjectTypes: []kmip.ObjectType{kmip.ObjectTypePrivateKey, kmip.ObjectTypeCertificate}}, []string{"d", "c"}},
		{"object type filter", Query{Filters: []Filter{Equals(attrObjectType, ttlv.Enum(0x420057, uint32(kmip.ObjectTypePrivateKey)))}}, []string{"c"}},
		{"state set", Query{States: []kmip.State{kmip.StateActive}}, []string{"c"}},
		{"state filter", Query{Filters: []Filter{Equals(attrState, ttlv.Enum(kmip.TagState, uint32(kmip.StatePreActive)))}}, []string{"b", "a"}},
		{"destroyed state needs mask", Query{States: []kmip.State{kmip.StateDestroyed}}, nil},
		{"destroyed state with mask", Query{Storage: all, States: []kmip.State{kmip.StateDestroyed, kmip.StateDestroyedCompromised}}, []string{"f", "e"}},

		{"algorithm", Query{Filters: []Filter{Equals(attrAlgorithm, ttlv.Enum(kmip.TagCryptographicAlgorithm, algAES))}}, []string{"a"}},
		{"algorithm, all storage", Query{Storage: all, Filters: []Filter{Equals(attrAlgorithm, ttlv.Enum(kmip.TagCryptographicAlgorithm, algAES))}}, []string{"f", "e", "a"}},
		{"object group", Query{Filters: []Filter{Equals(attrObjectGroup, ttlv.Text(kmip.TagObjectGroup, "g1"))}}, []string{"b", "a"}},

		{"custom x- text", Query{Filters: []Filter{Equals("x-env", text("prod"))}}, []string{"a"}},
		{"custom x- other value", Query{Filters: []Filter{Equals("x-env", text("test"))}}, nil},
		{"custom y- boolean", Query{Filters: []Filter{Equals("y-flag", ttlv.Bool(kmip.TagAttributeValue, true))}}, []string{"c"}},
		{"custom y- wrong type", Query{Filters: []Filter{Equals("y-flag", ttlv.Int(kmip.TagAttributeValue, 1))}}, nil},
		{"vendor attribute", Query{Filters: []Filter{Equals("acme:tier", text("gold"))}}, []string{"c"}},
		{"custom present", Query{Filters: []Filter{{Name: "x-env"}}}, []string{"b", "a"}},

		{"owner", Query{Owner: "alice"}, []string{"c", "a"}},
		{"tenant", Query{Tenant: "t2"}, []string{"b"}},
		{"owner and tenant", Query{Owner: "bob", Tenant: "t1"}, nil},

		{"date exact", Query{Filters: []Filter{Equals("Initial Date", ttlv.DateTime(kmip.TagInitialDate, t1))}}, []string{"b"}},
		{"date exact, extended form", Query{Filters: []Filter{Equals(attrActivationDate, ttlv.DateTimeExtended(kmip.TagActivationDate, t2))}}, []string{"b"}},
		{"date range inclusive", Query{Filters: []Filter{Between("Initial Date", t0, t1)}}, []string{"b", "a"}},
		{"date range open end", Query{Filters: []Filter{Between("Initial Date", t1, time.Time{})}}, []string{"c", "b"}},
		{"date range open start", Query{Filters: []Filter{Between("Initial Date", time.Time{}, t0)}}, []string{"a"}},
		{"date range between values", Query{Filters: []Filter{Between("Initial Date", t0.Add(time.Second), t1.Add(-time.Second))}}, nil},
		{"date range reversed", Query{Filters: []Filter{Between("Initial Date", t2, t0)}}, nil},
		{"activation range", Query{Filters: []Filter{Between(attrActivationDate, t1, t2)}}, []string{"b", "a"}},
		{"activation present", Query{Filters: []Filter{{Name: attrActivationDate}}}, []string{"b", "a"}},

		{"unique identifier", Query{Filters: []Filter{Equals(attrUniqueIdentifier, ttlv.Text(0x420094, "b"))}}, []string{"b"}},
		{"unique identifier missing", Query{Filters: []Filter{Equals(attrUniqueIdentifier, ttlv.Text(0x420094, "zz"))}}, nil},

		{"unindexed integer", Query{Filters: []Filter{Equals("Cryptographic Length", ttlv.Int(kmip.TagCryptographicLength, 128))}}, []string{"b"}},
		{"unindexed absent", Query{Filters: []Filter{Equals("Contact Information", ttlv.Text(kmip.TagContactInformation, "x"))}}, nil},
		{"usage mask subset", Query{Filters: []Filter{Equals(attrUsageMask, ttlv.Int(kmip.TagCryptographicUsageMask, 0b0100))}}, []string{"b", "a"}},
		{"usage mask more bits", Query{Filters: []Filter{Equals(attrUsageMask, ttlv.Int(kmip.TagCryptographicUsageMask, 0b1100))}}, []string{"a"}},
		{"usage mask not held", Query{Filters: []Filter{Equals(attrUsageMask, ttlv.Int(kmip.TagCryptographicUsageMask, 0b0001))}}, nil},
		{"link by identifier only", Query{Filters: []Filter{Equals("Link", ttlv.Struct(kmip.TagLink, ttlv.Text(kmip.TagLinkedObjectIdentifier, "b")))}}, []string{"a"}},
		{"link, other type", Query{Filters: []Filter{Equals("Link", ttlv.Struct(kmip.TagLink, ttlv.Enum(kmip.TagLinkType, 0x104), ttlv.Text(kmip.TagLinkedObjectIdentifier, "b")))}}, nil},

		{"conjunction", Query{
			ObjectTypes: []kmip.ObjectType{kmip.ObjectTypeSymmetricKey},
			Owner:       "alice",
			Filters: []Filter{
				Equals(attrObjectGroup, ttlv.Text(kmip.TagObjectGroup, "g1")),
				Equals("x-env", text("prod")),
				Between("Initial Date", t0, t2),
			},
		}, []string{"a"}},
		{"conjunction, one fails", Query{Filters: []Filter{
			Equals(attrObjectGroup, ttlv.Text(kmip.TagObjectGroup, "g1")),
			Equals(attrAlgorithm, ttlv.Enum(kmip.TagCryptographicAlgorithm, algRSA)),
		}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Locate(context.Background(), tt.q)
			if err != nil {
				t.Fatalf("Locate: %v", err)
			}
			if !equalIDs(got, tt.want) {
				t.Errorf("Locate = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLocatePaging(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	const n = 25
	var all []string
	var objs []*Object
	for i := range n {
		id := fmt.Sprintf("k%02d", i)
		o := newKey(id, groupAttr("paged"))
		// Every fifth object is archived, so it matches the index but not
		// the default Storage Status Mask: Offset Items counts only objects
		// that match (KMIP 2.0 §6.1.27).
		o.Archived = i%5 == 0
		objs = append(objs, o)
		if !o.Archived {
			all = append([]string{id}, all...) // newest first
		}
	}
	bulkCreate(t, s, objs...)
	oldest := slices.Clone(all)
	slices.Reverse(oldest)
	group := Equals(attrObjectGroup, ttlv.Text(kmip.TagObjectGroup, "paged"))
	tests := []struct {
		name          string
		oldestFirst   bool
		offset, limit int
		want          []string
	}{
		{"all", false, 0, 0, all},
		{"first page", false, 0, 7, all[:7]},
		{"second page", false, 7, 7, all[7:14]},
		{"last partial page", false, 14, 7, all[14:]},
		{"past the end", false, 40, 7, nil},
		{"negative offset is zero", false, -3, 2, all[:2]},
		{"negative limit is none", false, 18, -1, all[18:]},
		{"limit larger than result", false, 0, 1000, all},
		{"oldest first, all", true, 0, 0, oldest},
		{"oldest first, first item", true, 0, 1, oldest[:1]},
		{"oldest first, second page", true, 7, 7, oldest[7:14]},
		{"oldest first, last partial page", true, 14, 7, oldest[14:]},
	}
	for _, tt := range tests {
		for _, q := range []Query{
			{Offset: tt.offset, MaxItems: tt.limit, OldestFirst: tt.oldestFirst, Filters: []Filter{group}}, // index path
			{Offset: tt.offset, MaxItems: tt.limit, OldestFirst: tt.oldestFirst},                           // full scan path
		} {
			got, err := s.Locate(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if !equalIDs(got, tt.want) {
				t.Errorf("%s (%d filters): Locate = %v, want %v", tt.name, len(q.Filters), got, tt.want)
			}
		}
	}
}

func TestLocateAfterChanges(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	mustCreate(t, s, newKey("k", nameAttr("old"), algAttr(algAES), groupAttr("g"),
		customAttr("x-tag", ttlv.Text(kmip.TagAttributeValue, "v1")),
		dateAttr(attrActivationDate, kmip.TagActivationDate, t1)))
	find := func(q Query) []string {
		t.Helper()
		ids, err := s.Locate(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	byName := func(n string) Query { return Query{Filters: []Filter{Equals(attrName, ttlv.Text(0, n))}} }

	_, err := s.Update(ctx, "k", func(o *Object) error {
		o.SetAttr(nameAttr("new"))
		o.SetAttr(algAttr(algRSA))
		o.DeleteAttr(attrObjectGroup, 0)
		o.SetAttr(customAttr("x-tag", ttlv.Text(kmip.TagAttributeValue, "v2")))
		o.SetAttr(dateAttr(attrActivationDate, kmip.TagActivationDate, t2))
		o.State = kmip.StateActive
		o.Owner, o.Tenant = "carol", "t9"
		o.ObjectType = kmip.ObjectTypeSecretData
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	stale := map[string]Query{
		"old name":       byName("old"),
		"old algorithm":  {Filters: []Filter{Equals(attrAlgorithm, ttlv.Enum(kmip.TagCryptographicAlgorithm, algAES))}},
		"deleted group":  {Filters: []Filter{Equals(attrObjectGroup, ttlv.Text(kmip.TagObjectGroup, "g"))}},
		"old custom":     {Filters: []Filter{Equals("x-tag", ttlv.Text(kmip.TagAttributeValue, "v1"))}},
		"old activation": {Filters: []Filter{Between(attrActivationDate, t1, t1)}},
		"old state":      {States: []kmip.State{kmip.StatePreActive}},
		"old owner":      {Owner: "alice"},
		"old tenant":     {Tenant: "t1"},
		"old type":       {ObjectTypes: []kmip.ObjectType{kmip.ObjectTypeSymmetricKey}},
	}
	for name, q := range stale {
		if ids := find(q); len(ids) != 0 {
			t.Errorf("%s still finds %v", name, ids)
		}
	}
	fresh := map[string]Query{
		"new name":       byName("new"),
		"new algorithm":  {Filters: []Filter{Equals(attrAlgorithm, ttlv.Enum(kmip.TagCryptographicAlgorithm, algRSA))}},
		"new custom":     {Filters: []Filter{Equals("x-tag", ttlv.Text(kmip.TagAttributeValue, "v2"))}},
		"new activation": {Filters: []Filter{Between(attrActivationDate, t2, t2)}},
		"new state":      {States: []kmip.State{kmip.StateActive}},
		"new owner":      {Owner: "carol"},
		"new tenant":     {Tenant: "t9"},
		"new type":       {ObjectTypes: []kmip.ObjectType{kmip.ObjectTypeSecretData}},
	}
	for name, q := range fresh {
		if ids := find(q); !equalIDs(ids, []string{"k"}) {
			t.Errorf("%s finds %v, want [k]", name, ids)
		}
	}

	// Destroy keeps the metadata: the object leaves on-line storage.
	if _, err := s.Update(ctx, "k", func(o *Object) error {
		o.State, o.Wrapped = kmip.StateDestroyed, nil
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if ids := find(byName("new")); len(ids) != 0 {
		t.Errorf("destroyed object located by default: %v", ids)
	}
	q := byName("new")
	q.Storage = StorageDestroyed
	if ids := find(q); !equalIDs(ids, []string{"k"}) {
		t.Errorf("destroyed object with mask: %v", ids)
	}

	if err := s.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	q.Storage = StorageOnLine | StorageArchival | StorageDestroyed
	if ids := find(q); len(ids) != 0 {
		t.Errorf("deleted object located: %v", ids)
	}
}

// Names longer than an index key allows are indexed by hash and still found
// exactly; a shared prefix never matches.
func TestLocateLongName(t *testing.T) {
	s, _ := openTest(t)
	long := strings.Repeat("n", 40000)
	bulkCreate(t, s, newKey("long", nameAttr(long)), newKey("longer", nameAttr(long+"x")))
	ids, err := s.Locate(context.Background(), Query{Filters: []Filter{Equals(attrName, ttlv.Text(0, long))}})
	if err != nil || !equalIDs(ids, []string{"long"}) {
		t.Errorf("Locate long name = %v, %v", ids, err)
	}
}

// The planner must start from the smallest candidate set, whatever the
// order of the conditions.
func TestPlanPicksMostSelective(t *testing.T) {
	s, _ := openTest(t)
	var objs []*Object
	for i := range 40 {
		o := newKey(fmt.Sprintf("k%d", i), groupAttr("big"), algAttr(algAES))
		if i == 17 {
			o.Attributes = append(o.Attributes, nameAttr("needle"))
		}
		objs = append(objs, o)
	}
	bulkCreate(t, s, objs...)
	q := Query{
		ObjectTypes: []kmip.ObjectType{kmip.ObjectTypeSymmetricKey},
		Tenant:      "t1",
		Filters: []Filter{
			Equals(attrAlgorithm, ttlv.Enum(kmip.TagCryptographicAlgorithm, algAES)),
			Equals(attrObjectGroup, ttlv.Text(kmip.TagObjectGroup, "big")),
			Equals(attrName, ttlv.Text(0, "needle")),
		},
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		srcs := sources(&q)
		if len(srcs) != 5 {
			t.Errorf("%d sources, want 5", len(srcs))
		}
		best, empty := plan(tx, srcs)
		if empty || best.kind != idxName {
			t.Errorf("plan chose index %q (empty %v), want the name index", best.kind, empty)
		}
		q2 := q
		q2.Filters = append([]Filter{Equals(attrName, ttlv.Text(0, "absent"))}, q.Filters...)
		if _, empty := plan(tx, sources(&q2)); !empty {
			t.Error("plan did not notice an empty source")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := s.Locate(context.Background(), q)
	if err != nil || !equalIDs(ids, []string{"k17"}) {
		t.Errorf("Locate = %v, %v", ids, err)
	}
}
