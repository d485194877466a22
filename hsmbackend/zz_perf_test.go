package hsmbackend_test

import (
	"testing"
	"time"

	"github.com/kmipd/kmipd/hsmbackend/hsmtest"
)

func TestZZPerf(t *testing.T) {
	hsmtest.New(t) // keeper
	var d1, d2 time.Duration
	for i := 0; i < 120; i++ {
		t0 := time.Now()
		c := hsmtest.NewToken(t)
		t1 := time.Now()
		_ = c
		hsmtest.New(t)
		d1 += t1.Sub(t0)
		d2 += time.Since(t1)
		if i%20 == 19 {
			t.Log(i, d1, d2)
			d1, d2 = 0, 0
		}
	}
}
