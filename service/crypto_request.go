package service

import (
	"github.com/kmipd/kmipd/hsmbackend"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

// cryptoRequest is the union of the request payloads of the cryptographic
// operations (KMIP 1.4 §4.29-4.37, 2.0 §6.1.11, 6.1.17, 6.1.39-6.1.48):
// they share their field names, so one parser serves them all. Byte slices
// alias the request message; never modify them.
type cryptoRequest struct {
	params    cryptoParams
	hasParams bool

	data, digested, iv, signature, mac, aad, tag, correlation []byte

	hasData, hasDigested, hasIV, hasSignature, hasMAC, hasAAD, hasTag, hasCorrelation bool

	init, final bool
	dataLength  int32
	hasDataLen  bool
}

// maxCryptoData bounds every byte-string input of one request: what the
// HSM accepts in one call (hsmbackend.MaxDataLen). It is checked here,
// before anything is copied or sent to the token.
const maxCryptoData = hsmbackend.MaxDataLen

// parseCryptoRequest decodes the fields of a cryptographic operation's
// request payload. A field given twice is Invalid Message (KMIP 1.4 §11.1
// "The same field is contained in a header/batch item/payload more than
// once"); a field of the wrong type is Invalid Field; an oversized input
// is Invalid Field.
func parseCryptoRequest(req *kmip.Request) (*cryptoRequest, error) {
	r := &cryptoRequest{}
	p := req.Payload
	if p.Type != ttlv.TypeStructure {
		return nil, kmip.Errorf(kmip.ResultReasonInvalidMessage, "request payload is not a structure")
	}
	seen := make(map[ttlv.Tag]bool, len(p.Children()))
	for _, f := range p.Children() {
		if seen[f.Tag] {
			return nil, kmip.Errorf(kmip.ResultReasonInvalidMessage, "request payload repeats %s", kmip.TagString(f.Tag))
		}
		seen[f.Tag] = true
		var err error
		bytesField := func(dst *[]byte, has *bool) {
			if err = cryptoWant(f, ttlv.TypeByteString); err != nil {
				return
			}
			if len(f.Bytes()) > maxCryptoData {
				err = kmip.Errorf(kmip.ResultReasonInvalidField, "%s of %d bytes exceeds %d", kmip.TagString(f.Tag), len(f.Bytes()), maxCryptoData)
				return
			}
			*dst, *has = f.Bytes(), true
		}
		switch f.Tag {
		case kmip.TagUniqueIdentifier:
			err = cryptoWant(f, ttlv.TypeTextString)
		case kmip.TagCryptographicParameters:
			r.params, err = parseCryptoParams(f)
			r.hasParams = err == nil
		case kmip.TagData:
			bytesField(&r.data, &r.hasData)
		case kmip.TagDigestedData:
			bytesField(&r.digested, &r.hasDigested)
		case kmip.TagIVCounterNonce:
			bytesField(&r.iv, &r.hasIV)
		case kmip.TagSignatureData:
			bytesField(&r.signature, &r.hasSignature)
		case kmip.TagMACData:
			bytesField(&r.mac, &r.hasMAC)
		case kmip.TagAuthenticatedEncryptionAdditionalData:
			bytesField(&r.aad, &r.hasAAD)
		case kmip.TagAuthenticatedEncryptionTag:
			bytesField(&r.tag, &r.hasTag)
		case kmip.TagCorrelationValue:
			bytesField(&r.correlation, &r.hasCorrelation)
		case kmip.TagInitIndicator:
			err = cryptoWant(f, ttlv.TypeBoolean)
			r.init = f.Bool()
		case kmip.TagFinalIndicator:
			err = cryptoWant(f, ttlv.TypeBoolean)
			r.final = f.Bool()
		case kmip.TagDataLength:
			err = cryptoWant(f, ttlv.TypeInteger)
			r.dataLength, r.hasDataLen = f.Int(), err == nil
		}
		if err != nil {
			return nil, err
		}
	}
	return r, nil
}

// streaming reports whether the request is part of a multi-part operation
// (KMIP 1.4 §2.1.15-2.1.17): it opens one, continues one, or closes one.
func (r *cryptoRequest) streaming() bool {
	return r.hasCorrelation || r.init || r.final
}

// missing is the error for a required field the request lacks. The OASIS
// vectors answer a Decrypt without its IV with Invalid Message in 1.4 and
// 2.0 alike (CS-BC-M-11/12/13), so every missing required field is.
func missing(field string) error {
	return kmip.Errorf(kmip.ResultReasonInvalidMessage, "missing %s", field)
}
