package service

import (
	"context"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// This file holds Re-key and Re-key Key Pair (KMIP 1.4 §4.4, §4.5; 2.0
// §6.1.42, §6.1.43): a replacement generated in the HSM, attributes copied
// from the existing key except those the spec lists, Replacement and
// Replaced Object Links between old and new, and the names moved to the
// replacement. The existing key keeps its state: the spec does not change
// it (it stays Active until revoked, which VAST relies on).

// crNotCopied are the attributes a replacement does not inherit (KMIP 1.4
// Tables 173 and 177: new or recomputed values, or "Not set"), plus the
// ones the server sets on every new object. Dates and Usage Limits are
// handled separately.
var crNotCopied = map[string]bool{
	attrUniqueIdentifier: true, attrObjectType: true, attrState: true, attrInitialDate: true,
	attrLastChangeDate: true, attrDestroyDate: true, attrCompromiseOccurrence: true,
	attrCompromiseDate: true, attrRevocationReason: true, attrDigest: true, attrLink: true,
	attrRandomNumberGenerator: true, attrFresh: true, attrOriginalCreationDate: true,
	attrAlwaysSensitive: true, attrNeverExtractable: true, "Archive Date": true,
	attrKeyValuePresent: true, "Key Format Type": true, attrLeaseTime: true,
	"Short Unique Identifier": true, attrUsageLimits: true,
	attrActivationDate: true, attrProcessStartDate: true, attrProtectStopDate: true, attrDeactivationDate: true,
}

// Dates the Offset moves: Re-key moves all four (KMIP 1.4 Table 172),
// Re-key Key Pair the activation and deactivation dates (Table 176).
var (
	rekeyDates     = []string{attrActivationDate, attrProcessStartDate, attrProtectStopDate, attrDeactivationDate}
	rekeyPairDates = []string{attrActivationDate, attrDeactivationDate}
)

// rekeyOffset reads the optional Offset and checks it is not combined with
// dates given explicitly (KMIP 1.4 §11.5: Invalid Message).
func rekeyOffset(fields map[ttlv.Tag]ttlv.Value, attrSets [][]kmip.Attribute, dates []string) (*time.Duration, error) {
	v, ok := fields[kmip.TagOffset]
	if !ok {
		return nil, nil
	}
	if v.Type != ttlv.TypeInterval {
		return nil, crFieldType(v)
	}
	for _, set := range attrSets {
		for _, d := range dates {
			if _, given := crFindAttr(set, d); given {
				return nil, kmip.Errorf(kmip.ResultReasonInvalidMessage, "offset given together with %s", d)
			}
		}
	}
	off := time.Duration(v.Interval()) * time.Second
	return &off, nil
}

// replacementAttrs computes the attributes of a replacement for old:
// everything copied but crNotCopied, the dates per the Offset (KMIP 1.4
// Table 172), the Usage Limits Total with a full Count, and the request's
// attributes on top (single-instance ones replace, multi-instance ones
// such as Name are added, as TC-REKEY-1 shows).
func replacementAttrs(req *kmip.Request, old *objects.Object, offset *time.Duration, requested []kmip.Attribute, dates []string, now time.Time) ([]kmip.Attribute, error) {
	var base []kmip.Attribute
	for _, a := range old.Attributes {
		if !crNotCopied[a.Name] {
			base = append(base, a)
		}
	}
	if ul, ok := old.Attr(attrUsageLimits); ok {
		if total, ok := ul.Value.Child(kmip.TagUsageLimitsTotal); ok {
			f := []ttlv.Value{total, ttlv.Long(kmip.TagUsageLimitsCount, total.Long())}
			if unit, ok := ul.Value.Child(kmip.TagUsageLimitsUnit); ok {
				f = append(f, unit)
			}
			base = append(base, attr(attrUsageLimits, ttlv.Struct(0, f...)))
		}
	}
	at1, hasAT := old.Attr(attrActivationDate)
	if offset == nil {
		for _, d := range dates {
			if a, ok := old.Attr(d); ok {
				base = append(base, a)
			}
		}
	} else {
		at2 := now.Add(*offset)
		base = append(base, attr(attrActivationDate, ttlv.DateTime(0, at2)))
		for _, d := range dates[1:] {
			a, ok := old.Attr(d)
			if !ok {
				continue
			}
			if !hasAT {
				// KMIP 1.4 §11.5: "An offset cannot be used to specify new
				// Process Start, Protect Stop and/or Deactivation Date
				// attribute values since no Activation Date has been
				// specified for the existing key".
				if req.Version.Is2x() {
					return nil, kmip.Errorf(kmip.ResultReasonInvalidField, "existing key has no activation date to offset %s from", d)
				}
				return nil, kmip.Errorf(kmip.ResultReasonIllegalOperation, "existing key has no activation date to offset %s from", d)
			}
			shift := at2.Sub(at1.Value.Time())
			base = append(base, attr(d, ttlv.DateTime(0, a.Value.Time().Add(shift))))
		}
	}
	return mergeKeyPairAttributes(base, requested), nil
}

// replacementTime is the replacement's Initial Date: now, but strictly
// after the existing key's (KMIP 1.4 Table 172: IT[2] > IT[1]), which a
// Re-key in the second of the Create would otherwise miss.
func replacementTime(now time.Time, olds ...*objects.Object) time.Time {
	for _, o := range olds {
		if a, ok := o.Attr(attrInitialDate); ok && !now.After(a.Value.Time()) {
			now = a.Value.Time().Add(time.Second)
		}
	}
	return now
}

// rekeyable checks that old can be re-keyed: on-line, of the wanted type
// and with its key material.
func rekeyable(req *kmip.Request, old *objects.Object, want kmip.ObjectType) error {
	switch {
	case old.Archived:
		return kmip.Errorf(kmip.ResultReasonObjectArchived, "object %s is archived", old.ID)
	case old.ObjectType != want:
		if req.Version.Is2x() {
			return kmip.Errorf(kmip.ResultReasonInvalidObjectType, "object %s is a %v, not a %v", old.ID, old.ObjectType, want)
		}
		// KMIP 1.4 §11.5: "Object specified is not able to be re-keyed".
		return kmip.Errorf(kmip.ResultReasonPermissionDenied, "object %s is a %v, not a %v", old.ID, old.ObjectType, want)
	case old.State == kmip.StateDestroyed || old.State == kmip.StateDestroyedCompromised ||
		(want != kmip.ObjectTypePublicKey && old.Wrapped == nil):
		return kmip.Errorf(kmip.ResultReasonKeyValueNotPresent, "object %s has no key material", old.ID)
	}
	return nil
}

// crReplace stores the replacements and retires the existing keys in one
// store transaction: each existing key loses its names to its replacement
// and links to it (KMIP 1.4 §4.4, Table 173: "all name attributes are
// removed from the existing key"). One transaction, because the store
// refuses two live objects with one Name (objects.ErrNameTaken): the
// replacement may take the names only as the existing key gives them up,
// and a failure leaves neither half done.
func (s *Service) crReplace(ctx context.Context, req *kmip.Request, now time.Time, pairs ...[2]*objects.Object) error {
	repls := make([]*objects.Object, 0, len(pairs))
	retire := make([]objects.Change, 0, len(pairs))
	for _, p := range pairs {
		old, repl := p[0], p[1]
		repls = append(repls, repl)
		retire = append(retire, objects.Change{ID: old.ID, Fn: func(o *objects.Object) error {
			for _, a := range o.AttrsNamed(attrName) {
				o.DeleteAttr(attrName, a.Index)
			}
			o.AddAttr(attr(attrLink, crLink(kmip.LinkTypeReplacementObjectLink, repl.ID)))
			touch(o, now)
			return nil
		}})
	}
	if err := s.store.Apply(ctx, repls, retire); err != nil {
		return crStoreError(req, err, pairs[0][0].ID)
	}
	return nil
}

// reKey is Re-key (KMIP 1.4 §4.4, 2.0 §6.1.42) of a symmetric key.
func (s *Service) reKeyOp(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	fields, err := crFields(req.Payload)
	if err != nil {
		return ttlv.Value{}, err
	}
	id, err := targetID(req)
	if err != nil {
		return ttlv.Value{}, err
	}
	old, err := s.object(ctx, req, id)
	if err != nil {
		return ttlv.Value{}, err
	}
	if err := rekeyable(req, old, kmip.ObjectTypeSymmetricKey); err != nil {
		return ttlv.Value{}, err
	}
	requested, err := s.crRequestAttributes(ctx, req, fields, kmip.TagTemplateAttribute, kmip.TagAttributes)
	if err != nil {
		return ttlv.Value{}, err
	}
	if err := checkClientAttributes(req, kmip.ObjectTypeSymmetricKey, requested, true); err != nil {
		return ttlv.Value{}, err
	}
	offset, err := rekeyOffset(fields, [][]kmip.Attribute{requested}, rekeyDates)
	if err != nil {
		return ttlv.Value{}, err
	}
	if err := s.crCheckNamesFree(ctx, req, requested); err != nil {
		return ttlv.Value{}, err
	}
	now := replacementTime(s.now().UTC().Truncate(time.Second), old)
	attrs, err := replacementAttrs(req, old, offset, requested, rekeyDates, now)
	if err != nil {
		return ttlv.Value{}, err
	}
	a, ok := crEnumAttr(attrs, attrCryptoAlgorithm)
	if !ok {
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonPermissionDenied, "object %s has no cryptographic algorithm to re-key with", id)
	}
	alg := kmip.CryptographicAlgorithm(a)
	bits, haveBits := crIntAttr(attrs, attrCryptoLength)
	spec, bits, err := symmetricSpec(req, alg, bits, haveBits)
	if err != nil {
		return ttlv.Value{}, err
	}
	format := kmip.KeyFormatType(old.KeyFormat)
	switch format {
	case kmip.KeyFormatTypeRaw, kmip.KeyFormatTypeOpaque, kmip.KeyFormatTypeTransparentSymmetricKey:
	default:
		format = kmip.KeyFormatTypeRaw
	}
	w, err := s.hsm.GenerateSecret(ctx, spec)
	if err != nil {
		return ttlv.Value{}, hsmError("re-key", err)
	}
	digest, err := s.crSecretDigest(ctx, w, func(plain []byte) ttlv.Value {
		m, err := exportKeyMaterial(kmip.ObjectTypeSymmetricKey, plain, nil, format)
		if err != nil {
			return ttlv.Bytes(kmip.TagKeyMaterial, plain)
		}
		return m
	}, format)
	if err != nil {
		return ttlv.Value{}, err
	}
	repl, err := s.crNewObject(ctx, kmip.ObjectTypeSymmetricKey, attrs, now)
	if err != nil {
		return ttlv.Value{}, err
	}
	repl.Wrapped = toStored(w)
	crSetCrypto(repl, alg, bits)
	crSetUsage(repl, defaultSymmetricUsage(alg))
	repl.SetAttr(attr(attrOriginalCreationDate, ttlv.DateTime(0, now)))
	repl.SetAttr(attr(attrDigest, digest))
	crSetFormat(repl, format)
	repl.AddAttr(attr(attrLink, crLink(kmip.LinkTypeReplacedObjectLink, old.ID)))
	if err := s.crReplace(ctx, req, now, [2]*objects.Object{old, repl}); err != nil {
		return ttlv.Value{}, err
	}
	return uidPayload(repl.ID), nil
}

// reKeyKeyPair is Re-key Key Pair (KMIP 1.4 §4.5, 2.0 §6.1.43): the
// existing pair is found from its private key and that key's Public Key
// Link.
func (s *Service) reKeyKeyPairOp(ctx context.Context, req *kmip.Request) (ttlv.Value, error) {
	fields, err := crFields(req.Payload)
	if err != nil {
		return ttlv.Value{}, err
	}
	id := req.IDPlaceholder
	if v, ok := fields[kmip.TagPrivateKeyUniqueIdentifier]; ok {
		if v.Type != ttlv.TypeTextString {
			return ttlv.Value{}, crFieldType(v)
		}
		id = v.Text()
	}
	if id == "" {
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonItemNotFound, "no private key unique identifier and no ID placeholder")
	}
	oldPriv, err := s.object(ctx, req, id)
	if err != nil {
		return ttlv.Value{}, err
	}
	if err := rekeyable(req, oldPriv, kmip.ObjectTypePrivateKey); err != nil {
		return ttlv.Value{}, err
	}
	pubID := ""
	for _, l := range oldPriv.AttrsNamed(attrLink) {
		if t, ok := l.Value.Child(kmip.TagLinkType); ok && kmip.LinkType(t.Enum()) == kmip.LinkTypePublicKeyLink {
			if v, ok := l.Value.Child(kmip.TagLinkedObjectIdentifier); ok {
				pubID = v.Text()
			}
		}
	}
	if pubID == "" {
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonPermissionDenied, "private key %s has no public key link", id)
	}
	oldPub, err := s.object(ctx, req, pubID)
	if err != nil {
		return ttlv.Value{}, err
	}
	if err := rekeyable(req, oldPub, kmip.ObjectTypePublicKey); err != nil {
		return ttlv.Value{}, err
	}
	privReq, pubReq, err := s.keyPairAttrs(ctx, req, fields, true)
	if err != nil {
		return ttlv.Value{}, err
	}
	offset, err := rekeyOffset(fields, [][]kmip.Attribute{privReq, pubReq}, rekeyPairDates)
	if err != nil {
		return ttlv.Value{}, err
	}
	if err := s.crCheckNamesFree(ctx, req, append(privReq[:len(privReq):len(privReq)], pubReq...)); err != nil {
		return ttlv.Value{}, err
	}
	now := replacementTime(s.now().UTC().Truncate(time.Second), oldPriv, oldPub)
	privAttrs, err := replacementAttrs(req, oldPriv, offset, privReq, rekeyPairDates, now)
	if err != nil {
		return ttlv.Value{}, err
	}
	pubAttrs, err := replacementAttrs(req, oldPub, offset, pubReq, rekeyPairDates, now)
	if err != nil {
		return ttlv.Value{}, err
	}
	if err := crCheckPairNames(req, privAttrs, pubAttrs); err != nil {
		return ttlv.Value{}, err
	}
	priv, pub, err := s.crGeneratePair(ctx, req, privAttrs, pubAttrs, now)
	if err != nil {
		return ttlv.Value{}, err
	}
	priv.AddAttr(attr(attrLink, crLink(kmip.LinkTypeReplacedObjectLink, oldPriv.ID)))
	pub.AddAttr(attr(attrLink, crLink(kmip.LinkTypeReplacedObjectLink, oldPub.ID)))
	if err := s.crReplace(ctx, req, now, [2]*objects.Object{oldPriv, priv}, [2]*objects.Object{oldPub, pub}); err != nil {
		return ttlv.Value{}, err
	}
	return kmip.Payload(
		ttlv.Text(kmip.TagPrivateKeyUniqueIdentifier, priv.ID),
		ttlv.Text(kmip.TagPublicKeyUniqueIdentifier, pub.ID),
	), nil
}
