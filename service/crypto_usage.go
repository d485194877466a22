package service

import (
	"context"
	"time"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// This file holds the usage checks the cryptographic operations add to
// requireUsable (usage.go): the Usage Limits allocation of KMIP 1.4 §3.21.

// usable checks that o may be used for usage now: state, dates, usage
// mask, archival (requireUsable in usage.go; KMIP 1.4 §3.22, §3.24-3.27).
func (c *cryptoOps) usable(ctx context.Context, req *kmip.Request, o *objects.Object, usage kmip.CryptographicUsageMask) error {
	if u, ok := any(c.s).(interface {
		requireUsable(context.Context, *kmip.Request, *objects.Object, kmip.CryptographicUsageMask) error
	}); ok {
		return u.requireUsable(ctx, req, o, usage)
	}
	return cryptoUsableFallback(req, o, usage, c.s.now())
}

// cryptoUsableFallback stands in for requireUsable until usage.go exists.
func cryptoUsableFallback(req *kmip.Request, o *objects.Object, usage kmip.CryptographicUsageMask, now time.Time) error {
	if o.Archived {
		return kmip.Errorf(kmip.ResultReasonObjectArchived, "object %s is archived", o.ID)
	}
	protect := usage&(kmip.CryptographicUsageMaskEncrypt|kmip.CryptographicUsageMaskSign|kmip.CryptographicUsageMaskMACGenerate) != 0
	switch {
	case o.State == kmip.StateActive:
	case !protect && (o.State == kmip.StateDeactivated || o.State == kmip.StateCompromised):
	default:
		return wrongState(req, "object %s is %v", o.ID, o.State)
	}
	date := func(name string) (int64, bool) {
		a, ok := o.Attr(name)
		if !ok || (a.Value.Type != ttlv.TypeDateTime && a.Value.Type != ttlv.TypeDateTimeExtended) {
			return 0, false
		}
		return a.Value.Time().Unix(), true
	}
	if t, ok := date(attrProtectStopDate); ok && protect && now.Unix() >= t {
		return kmip.Errorf(kmip.ResultReasonPermissionDenied, "object %s: protect stop date passed", o.ID)
	}
	if t, ok := date(attrProcessStartDate); ok && !protect && now.Unix() < t {
		return kmip.Errorf(kmip.ResultReasonPermissionDenied, "object %s: process start date not reached", o.ID)
	}
	if a, ok := o.Attr(attrCryptoUsageMask); ok && a.Value.Type == ttlv.TypeInteger {
		if kmip.CryptographicUsageMask(uint32(a.Value.Int()))&usage != usage {
			if req.Version.Is2x() {
				return kmip.Errorf(kmip.ResultReasonIncompatibleCryptographicUsageMask, "object %s may not be used for this operation", o.ID)
			}
			return kmip.Errorf(kmip.ResultReasonPermissionDenied, "object %s may not be used for this operation", o.ID)
		}
	}
	return nil
}

// allocate obtains units from o's Usage Limits before a protecting
// operation, as Encrypt and Sign must (KMIP 1.4 §4.29, §4.31: "If the
// Managed Cryptographic Object referenced has a Usage Limits attribute then
// the server SHALL obtain an allocation from the current Usage Limits value
// prior to performing the [...] operation. If the allocation is unable to
// be obtained the operation SHALL return with a result status of Operation
// Failed and result reason of Permission Denied"). bytes is the amount of
// data protected, for the Byte unit; the Object unit counts one per
// operation. Objects without Usage Limits need no store write.
func (c *cryptoOps) allocate(ctx context.Context, o *objects.Object, bytes int) error {
	if _, ok := o.Attr(attrUsageLimits); !ok {
		return nil
	}
	now := c.s.now()
	_, err := c.s.store.Update(ctx, o.ID, func(o *objects.Object) error {
		a, ok := o.Attr(attrUsageLimits)
		if !ok {
			return nil
		}
		total, count, unit, ok := parseUsageLimits(a.Value)
		if !ok {
			return kmip.Errorf(kmip.ResultReasonPermissionDenied, "usage limits of %s are malformed", o.ID)
		}
		need := int64(1)
		if unit == kmip.UsageLimitsUnitByte {
			need = int64(bytes)
		}
		if count < need {
			return kmip.Errorf(kmip.ResultReasonPermissionDenied, "usage limits of %s exhausted", o.ID)
		}
		a.Value = ttlv.Struct(a.Value.Tag,
			ttlv.Long(kmip.TagUsageLimitsTotal, total),
			ttlv.Long(kmip.TagUsageLimitsCount, count-need),
			ttlv.Enum(kmip.TagUsageLimitsUnit, uint32(unit)))
		o.SetAttr(a)
		touch(o, now)
		return nil
	})
	if err != nil {
		return storeError(err, o.ID)
	}
	return nil
}

// parseUsageLimits reads a Usage Limits structure (KMIP 1.4 §3.21). A
// missing Count means nothing was allocated yet: the Count starts at the
// Total ("When the attribute is initially set [...] the Usage Limits Count
// is set to the Usage Limits Total value").
func parseUsageLimits(v ttlv.Value) (total, count int64, unit kmip.UsageLimitsUnit, ok bool) {
	t, okT := v.Child(kmip.TagUsageLimitsTotal)
	u, okU := v.Child(kmip.TagUsageLimitsUnit)
	if !okT || !okU || t.Type != ttlv.TypeLongInteger || u.Type != ttlv.TypeEnumeration {
		return 0, 0, 0, false
	}
	total, unit = t.Long(), kmip.UsageLimitsUnit(u.Enum())
	count = total
	if c, okC := v.Child(kmip.TagUsageLimitsCount); okC && c.Type == ttlv.TypeLongInteger {
		count = c.Long()
	}
	return total, count, unit, true
}
