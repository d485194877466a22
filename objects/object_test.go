package objects

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/ttlv"
)

func TestAttrHelpers(t *testing.T) {
	o := &Object{}
	if _, ok := o.Attr(attrName); ok {
		t.Fatal("Attr on empty object found something")
	}
	if i := o.AddAttr(nameAttr("a")); i != 0 {
		t.Errorf("first AddAttr index = %d, want 0", i)
	}
	if i := o.AddAttr(nameAttr("b")); i != 1 {
		t.Errorf("second AddAttr index = %d, want 1", i)
	}
	if i := o.AddAttr(nameAttr("c")); i != 2 {
		t.Errorf("third AddAttr index = %d, want 2", i)
	}
	o.AddAttr(groupAttr("g"))

	if !o.DeleteAttr(attrName, 0) {
		t.Fatal("DeleteAttr(Name, 0) found nothing")
	}
	if o.DeleteAttr(attrName, 0) {
		t.Error("DeleteAttr(Name, 0) twice succeeded")
	}
	// KMIP 1.4 §2.1.1: indexes do not move when an instance is deleted.
	got := o.AttrsNamed(attrName)
	if len(got) != 2 || got[0].Index != 1 || got[1].Index != 2 {
		t.Fatalf("AttrsNamed after delete = %+v", got)
	}
	a, ok := o.Attr(attrName)
	if !ok || a.Index != 1 {
		t.Errorf("Attr = %+v, %v; want the lowest index, 1", a, ok)
	}
	if i := o.AddAttr(nameAttr("d")); i != 3 {
		t.Errorf("AddAttr after delete index = %d, want 3", i)
	}

	repl := nameAttr("B")
	repl.Index = 1
	o.SetAttr(repl)
	if a, _ := o.Attr(attrName); a.Value.Children()[0].Text() != "B" {
		t.Errorf("SetAttr did not replace: %+v", a)
	}
	if n := len(o.AttrsNamed(attrName)); n != 3 {
		t.Errorf("SetAttr changed the instance count to %d", n)
	}
	o.SetAttr(kmip.Attribute{Name: "x-new", Value: ttlv.Text(kmip.TagAttributeValue, "v")})
	if _, ok := o.Attr("x-new"); !ok {
		t.Error("SetAttr of a new attribute did not append it")
	}
}

func TestWrappedMaterialRedacted(t *testing.T) {
	w := &WrappedMaterial{MasterKey: "mk", Mechanism: "m", Blob: []byte("SECRETBLOB")}
	for _, s := range []string{fmt.Sprint(w), fmt.Sprintf("%v", w), fmt.Sprintf("%#v", w), fmt.Sprintf("%+v", w)} {
		if strings.Contains(s, "SECRETBLOB") || strings.Contains(s, fmt.Sprint([]byte("SECRETBLOB"))) { //nolint:staticcheck // QF1010: the byte-list form "[83 69 …]" is what the test looks for
			t.Errorf("formatted WrappedMaterial shows the blob: %s", s)
		}
	}
}
