package kmip

import (
	"context"
	"testing"

	"github.com/kmipd/kmipd/ttlv"
)

// TestBatchUndo: with Batch Error Continuation Option Undo, the items done
// before a failure are reversed newest first and answered Operation Undone;
// an item whose undo fails keeps its result (KMIP 1.4 §6.13, §11.43).
func TestBatchUndo(t *testing.T) {
	var undone []string
	mux := NewServeMux()
	mux.HandleFunc(OperationCreate, func(_ context.Context, r *Request) (ttlv.Value, error) {
		id := string(r.BatchItemID)
		r.OnUndo(func(context.Context) error {
			undone = append(undone, id)
			if id == "stuck" {
				return Errorf(ResultReasonGeneralFailure, "cannot undo")
			}
			return nil
		})
		return Payload(ttlv.Text(TagUniqueIdentifier, id)), nil
	})
	mux.HandleFunc(OperationDestroy, func(context.Context, *Request) (ttlv.Value, error) {
		return ttlv.Value{}, Errorf(ResultReasonPermissionDenied, "no")
	})
	item := func(op Operation, id string) ttlv.Value {
		return ttlv.Struct(TagBatchItem,
			ttlv.Enum(TagOperation, uint32(op)),
			ttlv.Bytes(TagUniqueBatchItemID, []byte(id)),
			ttlv.Struct(TagRequestPayload))
	}
	tests := []struct {
		name       string
		items      []ttlv.Value
		wantStatus []ResultStatus
		wantUndone []string
	}{
		{"failure undoes earlier items newest first",
			[]ttlv.Value{item(OperationCreate, "a"), item(OperationCreate, "b"), item(OperationDestroy, "c"), item(OperationCreate, "d")},
			[]ResultStatus{ResultStatusOperationUndone, ResultStatusOperationUndone, ResultStatusOperationFailed},
			[]string{"b", "a"}},
		{"an item whose undo fails keeps its result",
			[]ttlv.Value{item(OperationCreate, "stuck"), item(OperationCreate, "e"), item(OperationDestroy, "f")},
			[]ResultStatus{ResultStatusSuccess, ResultStatusOperationUndone, ResultStatusOperationFailed},
			[]string{"e", "stuck"}},
		{"no failure, nothing undone",
			[]ttlv.Value{item(OperationCreate, "g"), item(OperationCreate, "h")},
			[]ResultStatus{ResultStatusSuccess, ResultStatusSuccess},
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			undone = nil
			hdr := ttlv.Struct(TagRequestHeader,
				ProtocolVersionValue(V1_4),
				ttlv.Enum(TagBatchErrorContinuationOption, uint32(BatchErrorContinuationOptionUndo)),
				ttlv.Int(TagBatchCount, int32(len(tt.items))))
			msg := ttlv.Struct(TagRequestMessage, append([]ttlv.Value{hdr}, tt.items...)...)
			out, err := ttlv.Decode(HandleMessage(context.Background(), mux, ttlv.Marshal(msg), nil), ttlv.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			items := out.All(TagBatchItem)
			if len(items) != len(tt.wantStatus) {
				t.Fatalf("%d batch items answered, want %d", len(items), len(tt.wantStatus))
			}
			for i, bi := range items {
				st, _ := bi.Child(TagResultStatus)
				if got := ResultStatus(st.Enum()); got != tt.wantStatus[i] {
					t.Errorf("item %d: status %v, want %v", i, got, tt.wantStatus[i])
				}
				if got := ResultStatus(st.Enum()); got == ResultStatusOperationUndone && bi.Has(TagResponsePayload) {
					t.Errorf("item %d: undone item keeps its payload", i)
				}
			}
			if len(undone) != len(tt.wantUndone) {
				t.Fatalf("undone %v, want %v", undone, tt.wantUndone)
			}
			for i := range undone {
				if undone[i] != tt.wantUndone[i] {
					t.Fatalf("undone %v, want %v", undone, tt.wantUndone)
				}
			}
		})
	}
}
