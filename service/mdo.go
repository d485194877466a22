package service

import (
	"fmt"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/ttlv"
)

// This file holds metadata-only objects: keys a client registers with a Key
// Block that has no Key Value, because the value stays with the client or
// in another key store (KMIP 1.4 §3.41 Key Value Present, §3.42 Key Value
// Location; 2.0 §4.28, §4.29; test cases TC-MDO-1..3, TC-OTP-SETUP-2).
//
// The server keeps the attributes and the object structure without its
// Key Value: the shell in Object.Public (register.go), no Wrapped material,
// and Key Value Present set to False. Get answers with the Key Block as
// registered, without Key Value; every operation that needs the key itself
// finds no Wrapped material and answers Key Value Not Present (crypto_ops.go,
// keycache.go, rekey.go, derive.go).

// mdoObjectTypes are the object types that may be registered without a Key
// Value: those Key Value Present applies to (KMIP 1.4 Table 142, 2.0 §4.28).
// A Public Key carries nothing secret, so it has no reason to be registered
// without its value.
var mdoObjectTypes = map[kmip.ObjectType]bool{
	kmip.ObjectTypeSymmetricKey: true,
	kmip.ObjectTypePrivateKey:   true,
	kmip.ObjectTypeSplitKey:     true,
	kmip.ObjectTypeSecretData:   true,
}

// registerMetadataOnly completes the Register of a Key Block without Key
// Value (kb.noValue): it records the shell (the fields of the object
// structure other than the Key Block), the Cryptographic Algorithm and
// Length the request states, the Key Format Type and Key Value Present =
// False. There is no Digest: it is computed on the Key Material (KMIP 1.4
// §3.17), which the server never sees. A Key Value Location the client
// gave is among attrs and is stored like any client attribute.
func registerMetadataOnly(req *kmip.Request, o *objects.Object, attrs []kmip.Attribute, ot kmip.ObjectType, kb *crKeyBlock, shell []ttlv.Value) error {
	if !mdoObjectTypes[ot] {
		return kmip.Errorf(kmip.ResultReasonInvalidField,
			"register of a %v without key value: only symmetric keys, private keys, split keys and secret data may omit it (KMIP 1.4 §3.41)", ot)
	}
	alg, bits, err := statedCrypto(req, kb, attrs)
	if err != nil {
		return err
	}
	if ot == kmip.ObjectTypeSymmetricKey && alg == 0 {
		// Nothing else can tell it: there is no key material to look at.
		return crBadValue(req, "cryptographic algorithm is required")
	}
	if len(shell) > 0 {
		o.Public = crEncodeShell(ttlv.Struct(crObjectTags[ot], shell...))
	}
	crSetCrypto(o, alg, bits)
	crSetRegisteredUsage(o, ot, alg)
	crSetFormat(o, kb.format)
	o.SetAttr(attr(attrKeyValuePresent, ttlv.Bool(0, false)))
	return nil
}

// isMetadataOnly reports whether o was registered without Key Value and
// has not been destroyed since (a destroyed object has no key value
// either, and Get refuses it as such).
func isMetadataOnly(o *objects.Object) bool {
	if o.State == kmip.StateDestroyed || o.State == kmip.StateDestroyedCompromised {
		return false
	}
	a, ok := o.Attr(attrKeyValuePresent)
	return ok && a.Value.Type == ttlv.TypeBoolean && !a.Value.Bool()
}

// metadataOnlyObject is the object structure Get returns for a
// metadata-only object: the Key Block as registered, without Key Value
// (TC-MDO-1, TC-MDO-3). Asking for another Key Format Type, a compression
// or a wrapping needs the key value the server does not have: Key Value
// Not Present, the reason KMIP 1.4 §11 gives operations that need the key
// of such an object. Key Wrap Type "As Registered" asks for the Key Block
// as registered, which is this one.
func metadataOnlyObject(o *objects.Object, tag ttlv.Tag, want kmip.KeyFormatType,
	compression kmip.KeyCompressionType, spec *crWrapSpec) (ttlv.Value, error) {
	stored := kmip.KeyFormatType(o.KeyFormat)
	if spec != nil || compression != 0 || (want != 0 && want != stored) {
		return ttlv.Value{}, kmip.Errorf(kmip.ResultReasonKeyValueNotPresent,
			"object %s was registered without key value: it can only be returned as registered", o.ID)
	}
	shell, err := crDecodeShell(o.Public)
	if err != nil {
		return ttlv.Value{}, fmt.Errorf("object %s: stored shell: %w", o.ID, err)
	}
	alg, length := keyBlockCrypto(o)
	kb := keyBlockValue(stored, 0, ttlv.Value{}, alg, length, ttlv.Value{})
	return ttlv.Struct(tag, crWithKeyBlock(shell, kb)...), nil
}
