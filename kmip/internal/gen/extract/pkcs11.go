package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

var (
	funcRE = regexp.MustCompile(`^CK_PKCS11_FUNCTION_INFO\((C_\w+)\)`)
	ckrRE  = regexp.MustCompile(`^#define\s+CKR_(\w+)\s+(?:\(?CK_RV\)?)?\s*0x([0-9A-Fa-f]+)UL`)
)

// pkcs11 adds the two enumerations KMIP 2.0 defines by reference to
// PKCS#11 (2.0 §11.38, §11.39; same numbers in 2.1):
//
//   - PKCS#11 Function: "the 1-based offset count of the function in the
//     CK_FUNCTION_LIST_3_0 structure". That structure begins with the 68
//     functions of CK_FUNCTION_LIST, in the order of pkcs11f.h; the 3.0
//     additions after C_WaitForSlotEvent are not listed here.
//   - PKCS#11 Return Code: the CK_RV values, named as in the vectors
//     without the CKR_ prefix (value="OK").
//
// The headers are the PKCS#11 v2.40 ones shipped with
// github.com/miekg/pkcs11, already a dependency of kmipd.
func (x *extraction) pkcs11(dir string) error {
	fn := &enumDef{name: "PKCS#11 Function", kind: "enum", values: map[uint32]*enumValue{}}
	rc := &enumDef{name: "PKCS#11 Return Code", kind: "enum", values: map[uint32]*enumValue{}}
	fn.section = [3]string{"", "11.38", "11.38"}
	rc.section = [3]string{"", "11.39", "11.39"}
	f, err := os.ReadFile(filepath.Join(dir, "pkcs11f.h"))
	if err != nil {
		return fmt.Errorf("read PKCS#11 function list: %w", err)
	}
	n := uint32(0)
	for sc := bufio.NewScanner(bytes.NewReader(f)); sc.Scan(); {
		if m := funcRE.FindStringSubmatch(sc.Text()); m != nil {
			n++
			fn.values[n] = &enumValue{value: n, names: [3]string{"", m[1], m[1]}}
		}
	}
	if n != 68 {
		return fmt.Errorf("pkcs11f.h: %d functions, want 68", n)
	}
	t, err := os.ReadFile(filepath.Join(dir, "pkcs11t.h"))
	if err != nil {
		return fmt.Errorf("read PKCS#11 types: %w", err)
	}
	for sc := bufio.NewScanner(bytes.NewReader(t)); sc.Scan(); {
		m := ckrRE.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil || m[1] == "VENDOR_DEFINED" {
			continue
		}
		v, err := strconv.ParseUint(m[2], 16, 32)
		if err != nil {
			return fmt.Errorf("pkcs11t.h: CKR_%s: %w", m[1], err)
		}
		if old := rc.values[uint32(v)]; old != nil {
			continue // a deprecated alias of an earlier name
		}
		rc.values[uint32(v)] = &enumValue{value: uint32(v), names: [3]string{"", m[1], m[1]}}
	}
	if rc.values[0] == nil || rc.values[0].names[1] != "OK" {
		return fmt.Errorf("pkcs11t.h: no CKR_OK")
	}
	x.enumsB[fn.name] = fn
	x.enumsB[rc.name] = rc
	return nil
}
