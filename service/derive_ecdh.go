package service

import (
	"context"
	"crypto/ecdsa"
	"errors"

	"github.com/kmipd/kmipd/hsmbackend"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
)

// This file holds Derive Key with Derivation Method Asymmetric Key (KMIP
// 1.4 §4.6, 2.0 §6.1.13) for EC keys: ECDH key agreement, as the OASIS
// vectors TC-DERIVEKEY-6 ask it. The first object named is the EC private
// key, the second the peer's Public Key (or a Certificate holding it).
// The HSM computes the shared secret (CKM_ECDH1_DERIVE with CKD_NULL, so
// the derived key is the x-coordinate of the shared point, the raw ECDH
// output of SEC 1 §3.3.1) and wraps it at once: unlike the other methods,
// the private key and the secret never leave the HSM in clear.

// ecdhBases loads and checks the two objects of an ECDH derivation: the
// private key, usable for Derive Key, and the peer public key. The Derive
// Key usage is required of the private key only, as the peer's public key
// is typically someone else's.
func (s *Service) ecdhBases(ctx context.Context, req *kmip.Request, ids []string, p deriveParams) ([]*objects.Object, error) {
	if p.hasCrypto && p.crypto.alg != 0 && p.crypto.alg != kmip.CryptographicAlgorithmECDH {
		return nil, deriveInvalid("asymmetric key derivation supports ECDH, not %v", p.crypto.alg)
	}
	if len(ids) != 2 {
		return nil, deriveInvalid("asymmetric key derivation needs a private key and the peer's public key, not %d objects", len(ids))
	}
	priv, err := s.object(ctx, req, ids[0])
	if err != nil {
		return nil, err
	}
	alg := objectAlgorithm(priv)
	isEC := familyOfAlgorithm(alg) == familyEC || alg == kmip.CryptographicAlgorithmECDH
	if priv.ObjectType != kmip.ObjectTypePrivateKey || !isEC || priv.Wrapped == nil {
		return nil, crBadObjectType(req, "object %s (%v) is not an EC private key to derive with", priv.ID, priv.ObjectType)
	}
	if err := s.requireUsable(ctx, req, priv, kmip.CryptographicUsageMaskDeriveKey); err != nil {
		return nil, err
	}
	peer, err := s.object(ctx, req, ids[1])
	if err != nil {
		return nil, err
	}
	if peer.ObjectType != kmip.ObjectTypePublicKey && peer.ObjectType != kmip.ObjectTypeCertificate {
		return nil, crBadObjectType(req, "object %s (%v) is not the peer's public key", peer.ID, peer.ObjectType)
	}
	// No usage mask is asked of the peer, only a usable state.
	if err := s.requireUsable(ctx, req, peer, 0); err != nil {
		return nil, err
	}
	return []*objects.Object{priv, peer}, nil
}

// ecdhPeerPoint returns the uncompressed public point (SEC 1 §2.3.3) of
// the peer object. publicKeyOf has checked that it lies on its curve; the
// HSM checks that the curve is the private key's.
func ecdhPeerPoint(peer *objects.Object) ([]byte, error) {
	pub, err := publicKeyOf(peer)
	if err != nil {
		return nil, err
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		point, err := k.Bytes()
		if err != nil {
			return nil, deriveInvalid("public key %s: %v", peer.ID, err)
		}
		return point, nil
	case *secp256k1PublicKey:
		return k.uncompressed(), nil
	default:
		return nil, deriveInvalid("object %s does not hold an EC public key", peer.ID)
	}
}

// deriveECDH agrees a secret between bases[0] (the private key) and
// bases[1] (the peer) in the HSM and returns it wrapped as spec (n bytes
// long), with its SHA-256 when the HSM could compute it.
func (s *Service) deriveECDH(ctx context.Context, bases []*objects.Object, spec hsmbackend.SecretSpec, n int) (hsmbackend.Wrapped, []byte, error) {
	// KMIP 1.4 §4.6: "If the specified length exceeds the output of the
	// derivation method, then the server SHALL return an error". ECDH
	// yields a field element, as long as the curve's order.
	if bits := objectLength(bases[0]); bits > 0 && n > (bits+7)/8 {
		return hsmbackend.Wrapped{}, nil, deriveInvalid("ECDH on a %d-bit curve yields %d bits, fewer than the %d asked", bits, 8*((bits+7)/8), 8*n)
	}
	point, err := ecdhPeerPoint(bases[1])
	if err != nil {
		return hsmbackend.Wrapped{}, nil, err
	}
	h, err := s.hsm.UnwrapKey(ctx, fromStored(bases[0].Wrapped), hsmbackend.KeyUse{Kind: hsmbackend.EC, Derive: true})
	if err != nil {
		return hsmbackend.Wrapped{}, nil, hsmError("derive key", err)
	}
	defer func() { _ = s.hsm.DestroyHandle(context.WithoutCancel(ctx), h) }()
	w, sum, err := s.hsm.DeriveECDH(ctx, h, point, spec)
	if errors.Is(err, hsmbackend.ErrInvalidData) {
		// KMIP 1.4 §11.7 has no reason for a peer key that does not
		// fit; the computation failed, which is Cryptographic Failure.
		return hsmbackend.Wrapped{}, nil, kmip.Errorf(kmip.ResultReasonCryptographicFailure,
			"derive key: the HSM refused the public key of %s for ECDH with %s; are they on the same curve?", bases[1].ID, bases[0].ID)
	}
	if err != nil {
		return hsmbackend.Wrapped{}, nil, hsmError("derive key by ECDH", err)
	}
	return w, sum, nil
}
