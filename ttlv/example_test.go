package ttlv_test

import (
	"fmt"

	"github.com/kmipd/kmipd/ttlv"
)

func Example() {
	const (
		tagProtocolVersion      ttlv.Tag = 0x420069
		tagProtocolVersionMajor ttlv.Tag = 0x42006A
		tagProtocolVersionMinor ttlv.Tag = 0x42006B
	)
	// Encode straight to bytes, without a Value tree.
	var e ttlv.Encoder
	e.Structure(tagProtocolVersion, func(e *ttlv.Encoder) {
		e.Int(tagProtocolVersionMajor, 1)
		e.Int(tagProtocolVersionMinor, 4)
	})
	msg := e.Bytes()
	fmt.Printf("%X\n", msg)

	// Decode, strictly and within limits.
	v, err := ttlv.Decode(msg, ttlv.Limits{})
	if err != nil {
		fmt.Println(err)
		return
	}
	major, _ := v.Child(tagProtocolVersionMajor)
	minor, _ := v.Child(tagProtocolVersionMinor)
	fmt.Printf("version %d.%d\n", major.Int(), minor.Int())
	fmt.Println(v)

	// A Value tree encodes to the same bytes.
	same := ttlv.Marshal(ttlv.Struct(tagProtocolVersion,
		ttlv.Int(tagProtocolVersionMajor, 1),
		ttlv.Int(tagProtocolVersionMinor, 4)))
	fmt.Println(string(same) == string(msg))

	// Output:
	// 420069010000002042006A0200000004000000010000000042006B02000000040000000400000000
	// version 1.4
	// 0x420069 (Structure/32):
	//   0x42006A (Integer/4): 1
	//   0x42006B (Integer/4): 4
	// true
}

func ExampleDecode_error() {
	// An Integer must be 4 bytes long (KMIP 1.4 §9.1.1.4).
	msg := []byte{
		0x42, 0x00, 0x69, 0x01, 0, 0, 0, 0x10,
		0x42, 0x00, 0x6A, 0x02, 0, 0, 0, 0x08, 0, 0, 0, 0, 0, 0, 0, 1,
	}
	_, err := ttlv.Decode(msg, ttlv.Limits{})
	fmt.Println(err)
	fmt.Println(ttlv.IsEncodingError(err))
	// Output:
	// ttlv: offset 8, tag 0x42006A: Integer length 8, want 4
	// true
}
