package service

import "github.com/kmipd/kmipd/kmip"

// serverProfiles are the KMIP profiles kmipd claims in Query Profiles
// (KMIP 1.4 §4.25, 2.0 §6.1.37). A claim stands only where the profile's
// mandatory test cases pass against kmipd (`make conformance`,
// CONFORMANCE.md): the Baseline, Symmetric and Asymmetric Key Lifecycle,
// Basic, Advanced and RNG Cryptographic, Symmetric Key Foundry, Opaque
// Managed Object Store, Tape Library and Storage Array with Self
// Encrypting Drive server profiles.
//
// Left out on purpose: the Complete Server (the Put operation and the
// Split Key methods other than XOR and GF(2^8) are missing), HTTPS, JSON
// and XML Server (kmipd speaks TTLV over TLS only; the runner's XML is
// translated before it is sent), Suite B (it depends on the deployment's
// certificates), AES XTS (SoftHSM has no XTS), Quantum Safe and PKCS#11
// (refused by design).
//
// The 1.x names carry the KMIP version they were written for; the 2.x
// names do not. Query answers each version only the names it defines.
var serverProfiles = []kmip.ProfileName{
	kmip.ProfileNameBaselineServerBasicKMIPV12,
	kmip.ProfileNameBaselineServerTLSV12KMIPV12,
	kmip.ProfileNameBaselineServerBasicKMIPV13,
	kmip.ProfileNameBaselineServerTLSV12KMIPV13,
	kmip.ProfileNameBaselineServerBasicKMIPV14,
	kmip.ProfileNameBaselineServerTLSV12KMIPV14,

	kmip.ProfileNameSymmetricKeyLifecycleServerKMIPV10,
	kmip.ProfileNameSymmetricKeyLifecycleServerKMIPV11,
	kmip.ProfileNameSymmetricKeyLifecycleServerKMIPV12,
	kmip.ProfileNameSymmetricKeyLifecycleServerKMIPV13,
	kmip.ProfileNameSymmetricKeyLifecycleServerKMIPV14,
	kmip.ProfileNameAsymmetricKeyLifecycleServerKMIPV10,
	kmip.ProfileNameAsymmetricKeyLifecycleServerKMIPV11,
	kmip.ProfileNameAsymmetricKeyLifecycleServerKMIPV12,
	kmip.ProfileNameAsymmetricKeyLifecycleServerKMIPV13,
	kmip.ProfileNameAsymmetricKeyLifecycleServerKMIPV14,

	kmip.ProfileNameBasicCryptographicServerKMIPV12,
	kmip.ProfileNameBasicCryptographicServerKMIPV13,
	kmip.ProfileNameBasicCryptographicServerKMIPV14,
	kmip.ProfileNameAdvancedCryptographicServerKMIPV12,
	kmip.ProfileNameAdvancedCryptographicServerKMIPV13,
	kmip.ProfileNameAdvancedCryptographicServerKMIPV14,
	kmip.ProfileNameRNGCryptographicServerKMIPV12,
	kmip.ProfileNameRNGCryptographicServerKMIPV13,
	kmip.ProfileNameRNGCryptographicServerKMIPV14,
	kmip.ProfileNameSymmetricKeyFoundryServerKMIPV13,
	kmip.ProfileNameSymmetricKeyFoundryServerKMIPV14,

	kmip.ProfileNameOpaqueManagedObjectStoreServerKMIPV10,
	kmip.ProfileNameOpaqueManagedObjectStoreServerKMIPV11,
	kmip.ProfileNameOpaqueManagedObjectStoreServerKMIPV12,
	kmip.ProfileNameOpaqueManagedObjectStoreServerKMIPV13,
	kmip.ProfileNameOpaqueManagedObjectStoreServerKMIPV14,
	kmip.ProfileNameTapeLibraryServerKMIPV10,
	kmip.ProfileNameTapeLibraryServerKMIPV11,
	kmip.ProfileNameTapeLibraryServerKMIPV12,
	kmip.ProfileNameTapeLibraryServerKMIPV13,
	kmip.ProfileNameTapeLibraryServerKMIPV14,
	kmip.ProfileNameStorageArrayWithSelfEncryptingDriveServerKMIPV13,
	kmip.ProfileNameStorageArrayWithSelfEncryptingDriveServerKMIPV14,

	kmip.ProfileNameBaselineServer,
	kmip.ProfileNameSymmetricKeyLifecycleServer,
	kmip.ProfileNameAsymmetricKeyLifecycleServer,
	kmip.ProfileNameBasicCryptographicServer,
	kmip.ProfileNameAdvancedCryptographicServer,
	kmip.ProfileNameRNGCryptographicServer,
	kmip.ProfileNameSymmetricKeyFoundryServer,
	kmip.ProfileNameOpaqueManagedObjectStoreServer,
	kmip.ProfileNameTapeLibraryServer,
	kmip.ProfileNameStorageArrayWithSelfEncryptingDriveServer,
}
