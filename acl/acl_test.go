package acl

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"

	"github.com/kmipd/kmipd/kmip"
)

func TestDecide(t *testing.T) {
	alice := Subject{Name: "alice", Tenant: "t1"}
	bob := Subject{Name: "bob", Tenant: "t2"}
	policy := &Policy{Rules: []Rule{
		{Name: "no-destroy-for-bob", Effect: Deny, Subjects: []string{"bob"}, Operations: []kmip.Operation{kmip.OperationDestroy}},
		{Name: "t1-readers", Effect: Allow, Tenants: []string{"t1"}, Operations: []kmip.Operation{kmip.OperationGet, kmip.OperationLocate}},
		{Name: "everyone", Effect: Allow, Subjects: []string{"*"}, Operations: []kmip.Operation{kmip.OperationQuery, kmip.OperationDestroy, kmip.OperationGet}},
	}}
	own := &Object{ID: "1", Tenant: "t1"}
	other := &Object{ID: "2", Tenant: "t2"}
	tests := []struct {
		name    string
		policy  *Policy
		sub     Subject
		op      kmip.Operation
		obj     *Object
		allowed bool
		rule    string
	}{
		{"first allow rule names itself", policy, alice, kmip.OperationGet, own, true, "t1-readers"},
		{"wildcard subject", policy, alice, kmip.OperationQuery, nil, true, "everyone"},
		{"deny wins over a later allow", policy, bob, kmip.OperationDestroy, other, false, "no-destroy-for-bob"},
		{"no rule matches: default deny", policy, alice, kmip.OperationCreate, nil, false, "default-deny"},
		{"tenant isolation beats allow", policy, alice, kmip.OperationGet, other, false, "tenant-isolation"},
		{"zero policy denies", &Policy{}, alice, kmip.OperationQuery, nil, false, "default-deny"},
		{"nil policy denies", nil, alice, kmip.OperationQuery, nil, false, "default-deny"},
		{"default policy allows own tenant", DefaultPolicy(), alice, kmip.OperationDestroy, own, true, "default-allow-tenant"},
		{"default policy isolates tenants", DefaultPolicy(), bob, kmip.OperationGet, own, false, "tenant-isolation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.policy.Decide(tt.sub, tt.op, tt.obj)
			if d.Allowed != tt.allowed || d.Rule != tt.rule {
				t.Fatalf("Decide = %+v, want allowed=%v rule=%q", d, tt.allowed, tt.rule)
			}
			if !d.Allowed && d.Reason == "" {
				t.Fatal("a refusal must explain itself")
			}
		})
	}
}

func TestSubjectFromCertificate(t *testing.T) {
	tests := []struct {
		name string
		cert *x509.Certificate
		want Subject
	}{
		{"nil is anonymous", nil, Subject{Name: "anonymous"}},
		{"CN and OU", &x509.Certificate{Subject: pkix.Name{CommonName: "vc01", OrganizationalUnit: []string{"storage", "ops"}}}, Subject{Name: "vc01", Tenant: "storage", Groups: []string{"ops"}}},
		{"O when no OU", &x509.Certificate{Subject: pkix.Name{CommonName: "db", Organization: []string{"acme"}}}, Subject{Name: "db", Tenant: "acme"}},
		{"DNS SAN without CN", &x509.Certificate{DNSNames: []string{"host.example"}}, Subject{Name: "host.example"}},
		{"e-mail SAN", &x509.Certificate{EmailAddresses: []string{"a@example"}}, Subject{Name: "a@example"}},
		{"serial as last resort", &x509.Certificate{SerialNumber: big.NewInt(255)}, Subject{Name: "serial:ff"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SubjectFromCertificate(tt.cert)
			if got.Name != tt.want.Name || got.Tenant != tt.want.Tenant || len(got.Groups) != len(tt.want.Groups) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got.Groups {
				if got.Groups[i] != tt.want.Groups[i] {
					t.Fatalf("groups %v, want %v", got.Groups, tt.want.Groups)
				}
			}
		})
	}
}

func byName(s string) (kmip.Operation, bool) {
	for _, op := range []kmip.Operation{kmip.OperationCreate, kmip.OperationGet, kmip.OperationLocate} {
		if op.String() == s {
			return op, true
		}
	}
	return 0, false
}

func TestParseOperations(t *testing.T) {
	ops, err := ParseOperations(" Create, Get ,,Locate", byName)
	if err != nil || len(ops) != 3 || ops[0] != kmip.OperationCreate || ops[2] != kmip.OperationLocate {
		t.Fatalf("ParseOperations = %v, %v", ops, err)
	}
	if _, err := ParseOperations("Create, Bogus", byName); err == nil {
		t.Fatal("unknown operation accepted")
	}
}

func FuzzParseOperations(f *testing.F) {
	f.Add("Create, Get")
	f.Add(",,,")
	f.Add("Locate,Bogus")
	f.Fuzz(func(t *testing.T, s string) {
		ops, err := ParseOperations(s, byName)
		if err == nil {
			for _, op := range ops {
				if _, ok := byName(op.String()); !ok {
					t.Fatalf("parsed unknown operation %v", op)
				}
			}
		}
	})
}
