package service

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/kmipd/kmipd/acl"
	"github.com/kmipd/kmipd/audit"
	"github.com/kmipd/kmipd/hsmbackend"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// Version is kmipd's version, reported by Query Server Information and
// `kmipd version`; set at build time with -ldflags.
var Version = "0.1.0-dev"

// Auditor records one event, returning once the record has gone as far as
// d says; *audit.Logger implements it.
type Auditor interface {
	Record(ctx context.Context, ev audit.Event, d audit.Durability) error
	// Sync makes every record written so far durable.
	Sync() error
}

// Service answers KMIP operations. Build it with New.
type Service struct {
	store objects.Store
	hsm   *hsmbackend.Backend
	audit Auditor
	// auditSync says which records are fsynced before the response.
	auditSync AuditSync
	// journal stands for the records of store writes until they are
	// synced (journal.go); nil unless AuditSyncWrites with a store.
	journal *writeJournal
	policy  *acl.Policy
	log     hclog.Logger
	now     func() time.Time
	mux     *kmip.ServeMux
	info    kmip.ServerInfo

	keyCacheConfig KeyCacheConfig
	crypto         *cryptoOps
	storageMask    kmip.ProtectionStorageMask
	interop        bool // the Interop test-control operation is registered (interop.go)
	tickets        *ticketStore
	// maxRSABits bounds the RSA key pairs the HSM is asked to generate.
	maxRSABits int32
}

var _ kmip.Handler = (*Service)(nil)

// Option configures New.
type Option func(*Service)

// WithStore sets the object store.
func WithStore(st objects.Store) Option { return func(s *Service) { s.store = st } }

// DefaultMaxRSABits is the largest RSA key pair generated unless
// WithMaxRSABits says otherwise: the largest size of the KMIP profiles and
// test vectors. SoftHSM takes about 20 s for an 8192-bit pair, holding an
// HSM session all the while, so a client allowed Create Key Pair could
// otherwise tie up the session pool with a handful of requests.
const DefaultMaxRSABits = 4096

// WithMaxRSABits sets the largest RSA key pair Create Key Pair and Re-key
// Key Pair generate, from hsmbackend.MinRSABits to hsmbackend.MaxRSABits
// (values outside are clamped). Registered RSA keys are not affected.
func WithMaxRSABits(bits int) Option {
	return func(s *Service) {
		s.maxRSABits = int32(min(max(bits, hsmbackend.MinRSABits), hsmbackend.MaxRSABits))
	}
}

// WithHSM sets the HSM backend.
func WithHSM(b *hsmbackend.Backend) Option { return func(s *Service) { s.hsm = b } }

// WithAudit sets the audit log. Without one, nothing is audited: for tests
// of the protocol layer only; `kmipd serve` always sets one.
func WithAudit(a Auditor) Option { return func(s *Service) { s.audit = a } }

// WithPolicy sets the access policy (default: acl.DefaultPolicy).
func WithPolicy(p *acl.Policy) Option { return func(s *Service) { s.policy = p } }

// WithLogger sets the logger.
func WithLogger(l hclog.Logger) Option { return func(s *Service) { s.log = l } }

// WithKeyCache sizes the cache of unwrapped keys held in the HSM (default
// DefaultKeyCacheEntries entries for DefaultKeyCacheTTL; a zero or negative
// field disables it).
func WithKeyCache(cfg KeyCacheConfig) Option { return func(s *Service) { s.keyCacheConfig = cfg } }

// WithProtectionStorageMask says where key material is protected, as the
// derived Protection Storage Mask attribute reports it (KMIP 2.0 §4.44):
// Software for SoftHSM (the default), Hardware for a hardware HSM.
func WithProtectionStorageMask(m kmip.ProtectionStorageMask) Option {
	return func(s *Service) { s.storageMask = m }
}

// WithClock sets the clock, for tests of date-driven state changes.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// New builds a Service. Object operations are registered only when both a
// store and an HSM are given; the protocol operations (Discover Versions,
// Query) always are.
func New(opts ...Option) *Service {
	s := &Service{
		policy:         acl.DefaultPolicy(),
		log:            hclog.NewNullLogger(),
		now:            time.Now,
		mux:            kmip.NewServeMux(),
		keyCacheConfig: KeyCacheConfig{MaxEntries: DefaultKeyCacheEntries, TTL: DefaultKeyCacheTTL},
		storageMask:    kmip.ProtectionStorageMaskSoftware,
		maxRSABits:     DefaultMaxRSABits,
	}
	for _, o := range opts {
		o(s)
	}
	if s.store != nil {
		s.store = writeTrackingStore{s.store}
		if s.audit != nil && s.auditSync == AuditSyncWrites {
			s.journal = newWriteJournal(s.now)
		}
	}
	s.info = kmip.ServerInfo{
		Operations:           s.mux.Operations,
		VendorIdentification: "kmipd",
		// Server Information is vendor-specific (KMIP 1.4 §4.25); 2.0 named
		// fields for it (tags 0x42012D-0x420132), which 1.x answers leave
		// out (kmip.FilterForVersion).
		ServerInformation: []ttlv.Value{
			ttlv.Text(kmip.TagProductName, "kmipd"),
			ttlv.Text(kmip.TagServerVersion, Version),
		},
		Profiles: serverProfiles,
		// Clients are known by certificates that chain to the configured
		// client CA: credentials made outside KMIP and recognised by the
		// server, which is Client Generated (KMIP 1.4 §9.1.3.2.47). kmipd
		// neither issues credentials over KMIP nor takes registrations.
		ClientRegistrationMethods: []kmip.ClientRegistrationMethod{kmip.ClientRegistrationMethodClientGenerated},
		Capabilities: kmip.Capabilities{
			BatchContinue: true,
			BatchUndo:     true,
			DestroyAction: kmip.DestroyActionKeyMaterialDeleted,
		},
	}
	s.mux.HandleFunc(kmip.OperationDiscoverVersions, kmip.DiscoverVersions)
	s.mux.Handle(kmip.OperationQuery, kmip.QueryHandler(&s.info))
	s.tickets = newTicketStore()
	s.registerTicketOperations()
	if s.interop {
		s.mux.HandleFunc(kmip.OperationInterop, s.interopOp)
	}
	if s.store != nil && s.hsm != nil {
		// The object types Register and Create accept (KMIP 1.4 §2.2).
		// Query leaves out those a version does not define: Template
		// (1.x only, template.go).
		s.info.ObjectTypes = []kmip.ObjectType{
			kmip.ObjectTypeCertificate, kmip.ObjectTypeSymmetricKey, kmip.ObjectTypePublicKey,
			kmip.ObjectTypePrivateKey, kmip.ObjectTypeSplitKey, kmip.ObjectTypeTemplate,
			kmip.ObjectTypeSecretData, kmip.ObjectTypeOpaqueObject, kmip.ObjectTypePGPKey,
		}
		s.registerObjectOperations()
	}
	return s
}

// Mux exposes the operation table, for tests and Query.
func (s *Service) Mux() *kmip.ServeMux { return s.mux }

type subjectKey struct{}

// SubjectFrom returns the subject of ctx's request.
func SubjectFrom(ctx context.Context) acl.Subject {
	if sub, ok := ctx.Value(subjectKey{}).(acl.Subject); ok {
		return sub
	}
	return acl.Subject{Name: "anonymous"}
}

func subjectOf(ctx context.Context) acl.Subject {
	info := kmip.ConnInfoFrom(ctx)
	if info == nil || len(info.PeerCertificates) == 0 {
		return acl.SubjectFromCertificate(nil)
	}
	return acl.SubjectFromCertificate(info.PeerCertificates[0])
}

// ServeKMIP is the choke point: authorise, dispatch, audit.
//
// A request that presents a ticket (tickets.go) runs as the client the
// ticket stands for, within the ticket's Rights; the access policy is
// applied to that client all the same.
func (s *Service) ServeKMIP(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	presenter := subjectOf(ctx)
	sub := presenter
	tk, tid, terr := s.ticketOf(req, presenter)
	if tk != nil {
		sub = tk.subject
	}
	ctx = context.WithValue(ctx, subjectKey{}, sub)
	ctx, effects := trackRequestEffects(ctx, s.journal, req, sub)
	dec := s.policy.Decide(sub, req.Operation, nil)
	var (
		payload ttlv.Value
		err     error
	)
	switch {
	case terr != nil:
		err = terr
	case !dec.Allowed:
		err = kmip.Errorf(kmip.ResultReasonPermissionDenied, "%s", dec.Reason)
	case tk != nil && tk.delegated && (req.Operation == kmip.OperationLogin || req.Operation == kmip.OperationDelegatedLogin):
		// Else a delegate whose Rights name Delegated Login could mint
		// a ticket with wider Rights than its own.
		err = kmip.Errorf(kmip.ResultReasonNotAuthorised, "DENIED: a delegated ticket cannot obtain tickets")
	case tk != nil && !tk.permits(req.Operation, uniqueIdentifierOf(req)):
		// "DENIED", as TC-DLOGIN-2-20 words it.
		err = kmip.Errorf(kmip.ResultReasonNotAuthorised, "DENIED: the ticket's Rights do not allow %v on this object", req.Operation)
	default:
		restore := s.prepareUndo(ctx, req)
		payload, err = s.mux.ServeKMIP(ctx, req)
		if err == nil && restore != nil {
			req.OnUndo(restore(payload))
		}
	}
	if s.audit != nil {
		ev := audit.Event{
			Time:      s.now(),
			RequestID: requestID(req),
			Subject:   sub.Name,
			Tenant:    sub.Tenant,
			Operation: req.Operation.String(),
			ObjectID:  objectIDOf(req, payload),
			Result:    "Success",
			Rule:      dec.Rule,
		}
		if terr != nil || tk != nil {
			// The ticket's digest, never its value; and who presented a
			// delegated ticket, when that is not whom it stands for.
			ev.Fields = map[string]string{"ticket": "malformed"}
			if tid != (ticketDigest{}) {
				ev.Fields["ticket"] = tid.String()
			}
			if !sameClient(presenter, sub) {
				ev.Fields["presenter"] = presenter.String()
			}
		}
		ev.Fields = effects.auditFields(ev.Fields, ev.ObjectID, uniqueIdentifierOf(req))
		if info := kmip.ConnInfoFrom(ctx); info != nil && info.RemoteAddr != nil {
			ev.Remote = info.RemoteAddr.String()
		}
		if err != nil {
			ev.Result = "OperationFailed"
			ev.Reason = kmip.ReasonOf(err).String()
		}
		journalID := effects.journalEntryID()
		if journalID != "" {
			// RecoverJournal finds the record by it.
			if ev.Fields == nil {
				ev.Fields = map[string]string{}
			}
			ev.Fields["journal"] = journalID
		}
		if aerr := s.audit.Record(ctx, ev, s.auditDurability(effects)); aerr != nil {
			// Fail closed: an operation that could not be recorded is
			// not acknowledged as a success. A journal entry it left
			// becomes a record at the next start (RecoverJournal).
			s.log.Error("audit log write failed; failing the request", "operation", req.Operation.String(), "error", aerr)
			return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonGeneralFailure, "audit log unavailable")
		}
		if journalID != "" {
			s.journalRecorded(journalID)
		}
	}
	return payload, err
}

// requestID is the audit record's request_id: the message's Server
// Correlation Value (KMIP 1.4 §6.19: "SHOULD be logged by the server with
// each request"), the value the client finds in its response; empty
// before 1.4.
func requestID(req *kmip.Request) string {
	if req.Header == nil {
		return ""
	}
	return req.Header.ServerCorrelationValue
}

// objectIDOf names the object an operation touched, for the audit record.
func objectIDOf(req *kmip.Request, payload ttlv.Value) string {
	if v, ok := payload.Child(kmip.TagUniqueIdentifier); ok && v.Type == ttlv.TypeTextString {
		return v.Text()
	}
	if v, ok := payload.Child(kmip.TagPrivateKeyUniqueIdentifier); ok {
		return v.Text()
	}
	id, _ := req.UniqueIdentifier()
	return id
}

// prepareUndo snapshots what an item of an Undo batch (KMIP 1.4 §6.13) may
// change, so that the batch can be reversed if a later item fails: the
// object it names. The returned function, given the item's response,
// builds the undo: delete the objects the item created and put the named
// object back as it was. It is nil outside Undo batches and for operations
// without a store (then nothing is snapshotted: no cost on the hot path).
func (s *Service) prepareUndo(ctx context.Context, req *kmip.Request) func(ttlv.Value) func(context.Context) error {
	if !req.UndoRequested() || s.store == nil {
		return nil
	}
	var before *objects.Object
	if id, ok := req.UniqueIdentifier(); ok {
		if o, err := s.store.Get(ctx, id); err == nil {
			before = o
		}
	}
	return func(payload ttlv.Value) func(context.Context) error {
		var created []string
		switch req.Operation {
		case kmip.OperationCreate, kmip.OperationRegister, kmip.OperationCreateKeyPair, kmip.OperationReKey,
			kmip.OperationReKeyKeyPair, kmip.OperationDeriveKey, kmip.OperationCertify, kmip.OperationReCertify,
			kmip.OperationCreateSplitKey, kmip.OperationJoinSplitKey, kmip.OperationImport:
			for _, tag := range []ttlv.Tag{kmip.TagUniqueIdentifier, kmip.TagPrivateKeyUniqueIdentifier, kmip.TagPublicKeyUniqueIdentifier} {
				for _, v := range payload.All(tag) {
					if v.Type == ttlv.TypeTextString && (before == nil || v.Text() != before.ID) {
						created = append(created, v.Text())
					}
				}
			}
		default:
			// The other operations create no objects.
		}
		return func(ctx context.Context) error {
			for _, id := range created {
				if err := s.store.Delete(ctx, id); err != nil && !errors.Is(err, objects.ErrNotFound) {
					return err
				}
			}
			if before != nil {
				_, err := s.store.Update(ctx, before.ID, func(o *objects.Object) error {
					rev, created, updated := o.Revision, o.Created, o.Updated
					*o = *before
					o.Revision, o.Created, o.Updated = rev, created, updated
					return nil
				})
				return err
			}
			return nil
		}
	}
}
