package acl

import (
	"crypto/x509"
	"fmt"
	"slices"
	"strings"

	"github.com/kmipd/kmipd/kmip"
)

// Subject is an authenticated client.
type Subject struct {
	// Name identifies the client: its certificate's Common Name, else its
	// first DNS or e-mail SAN.
	Name string
	// Tenant partitions the object space.
	Tenant string
	// Groups are the certificate's Organizational Units after the first.
	Groups []string
}

func (s Subject) String() string {
	if s.Tenant == "" {
		return s.Name
	}
	return s.Tenant + "/" + s.Name
}

// SubjectFromCertificate derives the Subject of a verified client
// certificate. A nil certificate (a connection without TLS, as in unit
// tests of handlers) is the anonymous subject.
func SubjectFromCertificate(c *x509.Certificate) Subject {
	if c == nil {
		return Subject{Name: "anonymous"}
	}
	s := Subject{Name: c.Subject.CommonName}
	if s.Name == "" && len(c.DNSNames) > 0 {
		s.Name = c.DNSNames[0]
	}
	if s.Name == "" && len(c.EmailAddresses) > 0 {
		s.Name = c.EmailAddresses[0]
	}
	if s.Name == "" {
		s.Name = "serial:" + c.SerialNumber.Text(16)
	}
	switch ous := c.Subject.OrganizationalUnit; {
	case len(ous) > 0:
		s.Tenant = ous[0]
		s.Groups = slices.Clone(ous[1:])
	case len(c.Subject.Organization) > 0:
		s.Tenant = c.Subject.Organization[0]
	}
	return s
}

// Object is what the policy knows of a managed object.
type Object struct {
	ID     string
	Tenant string
	Owner  string
}

// Decision is the outcome of Decide.
type Decision struct {
	Allowed bool
	// Rule names the rule that decided, for the audit log.
	Rule string
	// Reason explains a refusal, for a person.
	Reason string
}

// Effect of a rule.
type Effect int

// Rule effects.
const (
	Allow Effect = iota + 1
	Deny
)

// Rule grants or denies operations to subjects.
type Rule struct {
	Name   string
	Effect Effect
	// Subjects match by name; "*" matches everyone.
	Subjects []string
	// Tenants match the subject's tenant; empty matches any tenant.
	Tenants []string
	// Operations the rule covers; empty covers every operation.
	Operations []kmip.Operation
}

func (r *Rule) matches(s Subject, op kmip.Operation) bool {
	if len(r.Subjects) > 0 && !slices.Contains(r.Subjects, "*") && !slices.Contains(r.Subjects, s.Name) {
		return false
	}
	if len(r.Tenants) > 0 && !slices.Contains(r.Tenants, s.Tenant) {
		return false
	}
	return len(r.Operations) == 0 || slices.Contains(r.Operations, op)
}

// Policy is an ordered rule set. The zero Policy denies everything.
type Policy struct {
	Rules []Rule
}

// DefaultPolicy lets every authenticated client use every operation on its
// own tenant's objects: the behaviour of a single-tenant key server, which is
// what every KMIP client of today expects.
func DefaultPolicy() *Policy {
	return &Policy{Rules: []Rule{{Name: "default-allow-tenant", Effect: Allow, Subjects: []string{"*"}}}}
}

// Decide decides whether s may perform op on obj (nil for operations that
// touch no existing object, such as Create or Query). Deny wins; no match
// denies. Objects of another tenant are refused by the built-in rule
// "tenant-isolation", whatever the rules say.
func (p *Policy) Decide(s Subject, op kmip.Operation, obj *Object) Decision {
	if obj != nil && obj.Tenant != s.Tenant {
		return Decision{Rule: "tenant-isolation", Reason: fmt.Sprintf("object %s belongs to another tenant", obj.ID)}
	}
	var allow *Rule
	if p != nil {
		for i := range p.Rules {
			r := &p.Rules[i]
			if !r.matches(s, op) {
				continue
			}
			if r.Effect == Deny {
				return Decision{Rule: r.Name, Reason: fmt.Sprintf("%s may not %s (rule %s)", s, op, r.Name)}
			}
			if allow == nil && r.Effect == Allow {
				allow = r
			}
		}
	}
	if allow == nil {
		return Decision{Rule: "default-deny", Reason: fmt.Sprintf("no rule allows %s to %s", s, op)}
	}
	return Decision{Allowed: true, Rule: allow.Name}
}

// ParseOperations parses a comma-separated list of operation names as
// written in the KMIP XML encoding ("Create, Get, Locate").
func ParseOperations(list string, byName func(string) (kmip.Operation, bool)) ([]kmip.Operation, error) {
	var ops []kmip.Operation
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		op, ok := byName(f)
		if !ok {
			return nil, fmt.Errorf("acl: unknown operation %q", f)
		}
		ops = append(ops, op)
	}
	return ops, nil
}
