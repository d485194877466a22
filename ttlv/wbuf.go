package ttlv

import "encoding/hex"

// wbuf is an append buffer for the XML and JSON writers. Their output may
// carry key material, so when it outgrows an array it zeroes the old one
// rather than leave a copy of the secret to the garbage collector.
type wbuf struct {
	b []byte
}

// grow makes room for n more bytes.
func (w *wbuf) grow(n int) {
	if cap(w.b)-len(w.b) >= n {
		return
	}
	nb := make([]byte, len(w.b), max(2*cap(w.b), len(w.b)+n, 512))
	copy(nb, w.b)
	clear(w.b)
	w.b = nb
}

func (w *wbuf) str(s string) {
	w.grow(len(s))
	w.b = append(w.b, s...)
}

func (w *wbuf) byte(c byte) {
	w.grow(1)
	w.b = append(w.b, c)
}

func (w *wbuf) hex(p []byte) {
	w.grow(2 * len(p))
	w.b = hex.AppendEncode(w.b, p)
}
