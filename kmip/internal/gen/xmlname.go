package main

import (
	"strings"
	"unicode"
)

// xmlName turns a specification name into its spelling in the XML and JSON
// encodings, following the KMIP Profiles' "Normalizing Names" rules:
//
//  1. round brackets become spaces ("GF (2^8)" → "GF  2^8 ");
//  2. a character other than a letter, digit, underscore or space that is
//     followed by a letter and then a lower-case letter (that starts a
//     word) becomes a space ("Template-Attribute", "IV/Counter/Nonce",
//     "Re-key");
//  3. every other such character becomes "_" ("SHA-256", "X.509",
//     "PKCS#11", "HMAC-SHA1", "2^8", "v1.0");
//  4. leading digits of the first word move to its end ("3DES" → "DES3");
//  5. each word gets an upper-case first letter and the words are joined.
//
// The conformance vectors confirm the result for every name they use
// (kmip/names_test.go).
func xmlName(s string) string {
	r := []rune(s)
	for i, c := range r {
		if c == '(' || c == ')' {
			r[i] = ' '
		}
	}
	word := func(c rune) bool { return unicode.IsLetter(c) || unicode.IsDigit(c) || c == '_' || unicode.IsSpace(c) }
	for i, c := range r {
		if word(c) {
			continue
		}
		if i+2 < len(r) && unicode.IsLetter(r[i+1]) && unicode.IsLower(r[i+2]) {
			r[i] = ' '
		} else {
			r[i] = '_'
		}
	}
	words := strings.Fields(string(r))
	if len(words) > 0 {
		w := words[0]
		j := strings.IndexFunc(w, func(c rune) bool { return !unicode.IsDigit(c) })
		if j > 0 {
			words[0] = w[j:] + w[:j]
		}
	}
	var b strings.Builder
	for _, w := range words {
		wr := []rune(w)
		wr[0] = unicode.ToUpper(wr[0])
		b.WriteString(string(wr))
	}
	return b.String()
}
