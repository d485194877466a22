package conformance

// Rule is one way the runner reads a vector or compares a response, with
// the reason it is right. Every relaxation of "compare exactly, in order"
// is one row of Rules; the report prints them all.
type Rule struct {
	ID string
	// Scope says where the rule applies.
	Scope string
	// Action says what the runner does there.
	Action string
	// Reason says why.
	Reason string
}

// Rule IDs, as used in results and the report.
const (
	RuleExact                = "exact"
	RuleCleanStore           = "clean-store"
	RuleStopAtFirst          = "stop-at-first-difference"
	RuleBatchItems           = "batch-items-by-position"
	RuleResultMessage        = "result-message-free-text"
	RuleUniqueID             = "placeholder-unique-identifier"
	RuleRandomID             = "placeholder-random-identifier"
	RuleFallbackLastID       = "fallback-last-id"
	RuleNow                  = "placeholder-now"
	RuleCaptured             = "placeholder-captured"
	RuleLatestResponse       = "latest-response"
	RuleLiteralPlaceholder   = "literal-then-placeholder"
	RuleServerIV             = "server-chosen-iv"
	RuleServerCorrelation    = "server-correlation-value"
	RuleRNGOutput            = "rng-output"
	RuleGeneratedKey         = "generated-key-material"
	RuleUnpredictable        = "unpredictable-crypto-output"
	RuleQueryProfile         = "query-profile"
	RuleAttributeSet         = "attributes-as-set"
	RulePolicyAttributes     = "policy-attributes"
	RuleAttributeIndex       = "attribute-index-zero"
	RuleAllAttributes        = "all-attributes"
	RuleLocateSet            = "locate-as-set"
	RuleBigInteger           = "big-integer-magnitude"
	RuleTrailingContent      = "trailing-content"
	RulePairByOperation      = "pair-by-operation"
	RuleSeries               = "series"
	RuleReferenceClock       = "reference-clock"
	RuleEchoedClock          = "echoed-reference-clock"
	RuleLiteralShortID       = "literal-short-identifier"
	RuleDiscoverVersions     = "discover-versions"
	RuleExtractionWhitespace = "extraction-whitespace"
	RuleXMLValueNormalizing  = "xml-values"
)

// Rules is the single table of the runner's reading and comparison rules.
// The README cited is shared/conformance/README.md.
var Rules = []Rule{
	{RuleExact, "everything not named below",
		"compared exactly: tag, type and value of every item, the number of items and their order, Result Status and Result Reason included",
		"the vectors are the reference conversation; a difference in order or in an enumeration is a difference a client can see"},
	{RuleCleanStore, "each vector file",
		"runs on its own connection against an empty object store, except within a series (next rule)",
		"several files expect Locate to find only their own objects (README: Locate results); files do not always clean up after a failure"},
	{RuleSeries, "the series SASED-M-1..3, TL-M-1..3, TC-CREG-1..3 and TC-OTP-SETUP-1, TC-OTP-1..5, TC-OTP-CLEANUP-1 of each set",
		"run in that order on one server: the store is empty at the start of the series and kept from one file to the next",
		"a later file of a series Locates and destroys what an earlier one created and left (SASED-M-3 finds the Secret Data of SASED-M-2); TC-OTP-SETUP-2 registers a second pad under the name TC-OTP-SETUP-1 used, which KMIP 1.4 §3.2 forbids in one server, so it runs alone; the 1.4 Test Cases lack the TC-OTP setup files, so their TC-OTP files cannot pass"},
	{RuleStopAtFirst, "each vector file",
		"stops at the first response that differs and reports that difference",
		"later steps depend on the state the failed step should have left"},
	{RuleBatchItems, "batch items of a response",
		"matched by position; Unique Batch Item ID, when the vector has one, compared exactly",
		"README: Batches; the server must echo Unique Batch Item ID (KMIP 1.4 §7.2 Table 287)"},
	{RuleResultMessage, "Result Message",
		"skipped on both sides",
		"free text and server-specific (README: DENIED, CRYPTO, missing-iv, TOO_LARGE); Result Status and Result Reason carry the meaning"},
	{RuleUniqueID, "$UNIQUE_IDENTIFIER_n, $SHORT_UNIQUE_IDENTIFIER_n",
		"bound by label to the server's value on first sight in a response, different labels to different values; substituted in requests and required equal in responses afterwards",
		"README: identifiers are assigned by the server; one label may first appear on another tag (Private Key Unique Identifier, then Unique Identifier), so binding goes by label"},
	{RuleRandomID, "$UNIQUE_IDENTIFIER_RANDOM_n, $SHORT_UNIQUE_IDENTIFIER_RANDOM_n",
		"generated on first sight in a request (a random UUID; the short form is the SHA-256 of the matching long one), then bound like any identifier",
		"README: client-chosen identifiers of 2.0 TC-IMPEXP-5 (KMIP 2.0 §4.49 Short Unique Identifier)"},
	{RuleLiteralShortID, "a literal Short Unique Identifier in a response",
		"compared by type and length",
		"it is the reference server's (KMIP 2.0 §4.52: the server assigns it); TC-IMPEXP-3-20 writes the reference run's value in its last Get Attributes where the rest of the file has $SHORT_UNIQUE_IDENTIFIER_0"},
	{RuleFallbackLastID, "a request $UNIQUE_IDENTIFIER_n no response bound",
		"stands for the last Unique Identifier any response returned",
		"TC-RNG-ATTR-2-13 binds $UNIQUE_IDENTIFIER_1 in the Create response and then sends $UNIQUE_IDENTIFIER_0 (README: Surprises)"},
	{RuleNow, "$NOW, $NOW+s, $NOW-s",
		"in a request: the runner's clock plus the offset; in a response: any time from the start of the file minus a slack to now plus the slack, shifted by the offset",
		"README: time stamps and server-set dates are the real clock; the slack (10 s by default) absorbs clock granularity"},
	{RuleReferenceClock, "a literal Date-Time in a response that no request of the file sent before a response showed it",
		"compared like $NOW: any time from the start of the file to now, give or take the slack",
		"it is the reference run's clock: the extracted 1.0-1.2 set writes Time Stamp, Initial Date, Last Change Date and the date Activate set as literals (2012-04-27T08:12:24+00:00) where later sets write $NOW"},
	{RuleEchoedClock, "a literal Date-Time in a request that an earlier response of the file showed first",
		"replaced by the value the server answered where that response showed it; compared by rule reference-clock in responses",
		"it is the reference run's clock sent back: TC-IMPEXP-2..5 Import the attributes Export returned, Initial Date and Last Change Date included (KMIP 2.0 §6.1.24: the supplied values are kept)"},
	{RuleCaptured, "$CORRELATION_VALUE, $TICKET_VALUE, $DATA_n, $IV_COUNTER_NONCE, $MAC_DATA, $SIGNATURE_DATA, $AUTHENTICATED_ENCRYPTION_TAG, $KEY_MATERIAL_n, $KEY_VALUE_n, ... in a response",
		"type checked, value captured (the latest sighting wins) and substituted in later requests",
		"README: values the server computes and the file cannot predict (server-chosen IV, random keys, streaming correlation values, tickets)"},
	{RuleLatestResponse, "the same placeholders in a request, when no response bound them",
		"take the value of the same-named item of the latest response holding one",
		"README pattern (b): CS-BC-M-13 answers Encrypt with literal Data and IV and sends $DATA_0 and $IV_COUNTER_NONCE next; CS-AC-M-6 does the same with MAC Data"},
	{RuleLiteralPlaceholder, "a response literal that a later request takes back through such a placeholder",
		"compared by type and length",
		"it is the reference server's random output (README pattern (b))"},
	{RuleServerCorrelation, "Server Correlation Value in a response header",
		"must be a non-empty Text String; its value is not compared; it may appear where the vector has none, and be absent where the vector has one if the request carried no Client Correlation Value",
		"the server chooses it (KMIP 1.4 §6.19: \"SHOULD be globally unique\"); kmipd sends it only to clients that send a Client Correlation Value, because PyKMIP's header parser rejects it (1.4 and 2.0)"},
	{RuleServerIV, "Encrypt responses to a request without IV/Counter/Nonce that return one",
		"Data, IV/Counter/Nonce and Authenticated Encryption Tag compared by type and length",
		"the server chose the IV, so the ciphertext cannot match the reference run (README: Encrypt output when the server picks the IV)"},
	{RuleDiscoverVersions, "Discover Versions responses to a request that names no version",
		"the vector's versions must all be listed, in the same order; the server may list more",
		"the server answers with every version it supports, highest first (KMIP 1.4 §4.26); the vector lists those of the reference server, which spoke 1.x only"},
	{RuleRNGOutput, "RNG Retrieve responses",
		"Data compared by type and length",
		"random output (README: RNGRetrieve output Data)"},
	{RuleGeneratedKey, "Get and Export responses for an object the server generated (Create, Create Key Pair, Derive Key, Re-key, Re-key Key Pair, Create Split Key)",
		"Byte Strings and Big Integers inside Key Value compared by type and length (Big Integers: magnitude within 8 bytes)",
		"the key is random; the vectors show the reference run's key (README: KeyMaterial in Get responses for keys the server created)"},
	{RuleUnpredictable, "Encrypt, Decrypt, Sign and MAC responses under a key the server generated; Encrypt responses under a Public Key; Sign responses with PSS, DSA or ECDSA (named by the request or the key's attributes)",
		"Data, IV/Counter/Nonce, Authenticated Encryption Tag, Signature Data and MAC Data compared by type and length",
		"with a random key the vector's outputs (and the plaintext of its literal ciphertexts) are the reference run's; RSA encryption is randomized (PKCS #1 v2.2 §7.1 OAEP, §7.2 v1.5), and so are PSS (§8.1), DSA and ECDSA signatures (FIPS 186-4), so no two outputs match (README: Encrypt output ... compare by type and length)"},
	{RuleQueryProfile, "Query response payloads",
		"the server must list every operation and object type the vector lists that some request of the same set uses; every other item kind the vector shows (Vendor Identification, Server Information, Capability Information, Profile Information, RNG Parameters, ...) must be present at least once, its content not compared; the server may list more, but only items and values its answer's protocol version defines",
		"the vectors describe the reference server (README: Query responses: \"contains what the profile requires\"); the set's own requests stand for what its profile requires"},
	{RuleAttributeSet, "Get Attributes and Get Attribute List response payloads, and the Attributes of Export responses",
		"attributes (1.x Attribute structures, 2.x items of Attributes, Attribute Names, Attribute References) compared as a multiset keyed by attribute name, each value by the other rules",
		"the order of the reference server is not specified (README: GetAttributes / GetAttributeList)"},
	{RulePolicyAttributes, "Original Creation Date, Random Number Generator, Digest, Lease Time, in those payloads",
		"may be added or left out by the server; when both sides have Digest or Random Number Generator only their shape (tags and types) is compared",
		"README: server-added or server-omitted optional attributes are policy choices; Lease Time is set by the server and need not have a value (KMIP 1.4 §3.20); the digest depends on the key format digested and on random key material, the RNG describes the reference server"},
	{RuleAllAttributes, "Get Attribute List, Get Attributes naming no attribute, and Export",
		"the server may return attributes the vector does not list if it sets them itself (\"Initially set by\" names the server in the attribute's table) and the response's version defines them; every attribute the vector lists must still be there",
		"which server-set attributes an object carries is the server's; TL-M-3 lists Sensitive, Extractable, Always Sensitive and Never Extractable in Get Attribute List and then leaves them out of Get Attributes of the same object"},
	{RuleAttributeIndex, "1.x Attribute structures",
		"an Attribute Index of 0 on one side equals an absent one",
		"KMIP 1.4 §2.1.1: index 0 is the first instance; README: Attribute Index on 1.x is a server choice"},
	{RuleLocateSet, "Locate response payloads",
		"Unique Identifiers compared as a set: every one the vector lists must be returned, nothing else; Located Items exactly",
		"README: the order of located ids is not something to rely on; the store is clean, so nothing else may match"},
	{RuleBigInteger, "Big Integer values",
		"compared as unsigned magnitudes, leading zero bytes ignored",
		"the vectors write unsigned magnitudes padded to 8 bytes, where KMIP 1.4 §9.1.1.4 asks for two's complement; both spell the same key"},
	{RuleXMLValueNormalizing, "reading the vectors",
		"masks are sets of bits in any order, Byte Strings hex in either case, Date-Times instants (any offset), as the ttlv XML codec reads them",
		"README: XML encoding rules used in the vectors"},
	{RuleExtractionWhitespace, "Attribute Names holding runs of whitespace",
		"the run is read as one space, in requests and responses",
		"the 1.0-1.2 set was extracted from the profiles' HTML with its line wraps left in (\"Unique   Identifier\"); the reference run sent the spec's names (SOURCES.md note 1)"},
	{RuleTrailingContent, "content after the root element",
		"ignored: the file is read up to its first </KMIP>",
		"TC-ECDSA-SIGN-1-14 ends with a second </KMIP> and is not well-formed (README: Surprises)"},
	{RulePairByOperation, "files whose requests and responses do not alternate",
		"each response is paired with the earliest pending request of the same operations; pairs run in the order of the responses",
		"TC-DERIVEKEY-4-10 sends Destroy then Revoke and lists the replies Revoke, Destroy; Destroy before Revoke is impossible for an active key (README: Surprises)"},
}
