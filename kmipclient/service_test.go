package kmipclient

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/kmipd/kmipd/hsmbackend/hsmtest"
	"github.com/kmipd/kmipd/kmip"
	"github.com/kmipd/kmipd/objects"
	"github.com/kmipd/kmipd/service"
)

// startService runs kmipd's real service (bbolt store, SoftHSM token) on
// 127.0.0.1 over mutual TLS and returns it with a connected client.
func startService(t *testing.T, ver kmip.ProtocolVersion) (*service.Service, *Conn) {
	t.Helper()
	hsm := hsmtest.New(t) // skips without SoftHSM unless KMIPD_REQUIRE_HSM=1
	store, err := objects.Open(filepath.Join(t.TempDir(), "kmipd.db"), objects.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	svc := service.New(service.WithStore(store), service.WithHSM(hsm))
	srvCfg, cliCfg := testTLS(t)
	addr := serve(t, svc, srvCfg)
	c, err := Dial(context.Background(), addr, cliCfg, Options{Version: ver})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return svc, c
}

// needs skips the test while the service does not register op yet; the
// service's handlers are being written alongside this client.
func needs(t *testing.T, svc *service.Service, ops ...kmip.Operation) {
	t.Helper()
	for _, op := range ops {
		if !svc.Mux().Handles(op) {
			t.Skipf("the service does not register %s yet", op)
		}
	}
}

// TestAgainstService runs every helper against the real service, in 1.4
// and 2.0 encodings.
func TestAgainstService(t *testing.T) {
	for _, ver := range []kmip.ProtocolVersion{kmip.V1_4, kmip.V2_0} {
		t.Run(ver.String(), func(t *testing.T) {
			svc, c := startService(t, ver)
			ctx := context.Background()
			needs(t, svc, kmip.OperationCreate)
			name := "kmipclient-test-" + ver.String()
			id, err := c.CreateAES(ctx, 256, name)
			if err != nil {
				t.Fatalf("CreateAES: %v", err)
			}

			t.Run("locate", func(t *testing.T) {
				needs(t, svc, kmip.OperationLocate)
				ids, err := c.LocateByName(ctx, name)
				if err != nil {
					t.Fatal(err)
				}
				if len(ids) != 1 || ids[0] != id {
					t.Fatalf("LocateByName = %q, want [%q]", ids, id)
				}
			})
			t.Run("get", func(t *testing.T) {
				needs(t, svc, kmip.OperationGet)
				o, err := c.Get(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				defer o.Clear()
				if o.ID != id || o.Type != kmip.ObjectTypeSymmetricKey {
					t.Fatalf("Get = %q %v", o.ID, o.Type)
				}
			})
			t.Run("get missing", func(t *testing.T) {
				needs(t, svc, kmip.OperationGet)
				_, err := c.Get(ctx, "no-such-object")
				if !errors.Is(err, kmip.ErrItemNotFound) {
					t.Fatalf("err = %v, want Item Not Found", err)
				}
			})
			t.Run("encrypt and decrypt", func(t *testing.T) {
				needs(t, svc, kmip.OperationActivate, kmip.OperationEncrypt, kmip.OperationDecrypt)
				if err := c.Activate(ctx, id); err != nil {
					t.Fatalf("Activate: %v", err)
				}
				for _, size := range []int{64, 4096} {
					pt := bytes.Repeat([]byte{0xA5}, size)
					ct, err := c.Encrypt(ctx, id, pt, nil)
					if err != nil {
						t.Fatalf("Encrypt %d: %v", size, err)
					}
					if len(ct.Data) != size || len(ct.Tag) != GCMTagLength || len(ct.IV) == 0 {
						t.Fatalf("Encrypt %d: data %d, IV %d, tag %d bytes", size, len(ct.Data), len(ct.IV), len(ct.Tag))
					}
					got, err := c.Decrypt(ctx, id, ct)
					if err != nil {
						t.Fatalf("Decrypt %d: %v", size, err)
					}
					if !bytes.Equal(got, pt) {
						t.Fatalf("Decrypt %d: round trip differs", size)
					}
					ct.Tag[0] ^= 1
					if _, err := c.Decrypt(ctx, id, ct); err == nil {
						t.Fatalf("Decrypt %d accepted a forged tag", size)
					}
				}
			})
			t.Run("revoke and destroy", func(t *testing.T) {
				needs(t, svc, kmip.OperationActivate, kmip.OperationRevoke, kmip.OperationDestroy)
				id2, err := c.CreateAES(ctx, 128, "")
				if err != nil {
					t.Fatal(err)
				}
				if err := c.Activate(ctx, id2); err != nil {
					t.Fatal(err)
				}
				if err := c.Revoke(ctx, id2, kmip.RevocationReasonCodeCessationOfOperation); err != nil {
					t.Fatalf("Revoke: %v", err)
				}
				if err := c.Destroy(ctx, id2); err != nil {
					t.Fatalf("Destroy: %v", err)
				}
			})
			t.Run("sign", func(t *testing.T) {
				needs(t, svc, kmip.OperationCreateKeyPair, kmip.OperationActivate, kmip.OperationSign)
				priv, pub, err := c.CreateKeyPairEC(ctx, kmip.RecommendedCurveP256)
				if err != nil {
					t.Fatalf("CreateKeyPairEC: %v", err)
				}
				if priv == "" || pub == "" || priv == pub {
					t.Fatalf("key pair ids %q %q", priv, pub)
				}
				if err := c.Activate(ctx, priv); err != nil {
					t.Fatalf("Activate: %v", err)
				}
				sig, err := c.Sign(ctx, priv, []byte("message"))
				if err != nil {
					t.Fatalf("Sign: %v", err)
				}
				if len(sig) == 0 {
					t.Fatal("empty signature")
				}
			})
		})
	}
}
