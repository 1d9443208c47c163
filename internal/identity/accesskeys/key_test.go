package accesskeys

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestNewAccessKey(t *testing.T) {
	scope := Scope{Project: "payments", VirtualCluster: "dev"}
	expires := time.Now().Add(30 * 24 * time.Hour)
	plain, rec := New("alice", scope, expires, "ci")

	parts := strings.SplitN(plain, "_", 3)
	if len(parts) != 3 || parts[0] != "gak" || parts[1] != rec.ID {
		t.Fatalf("plaintext not gak_<id>_<secret>")
	}
	secret := parts[2]
	if len(secret) != 43 {
		t.Errorf("secret has %d characters, want 43 (32 bytes base64url)", len(secret))
	}
	if rec.Owner != "alice" || rec.Scope != scope || rec.Name != "ci" || rec.Revoked ||
		!rec.Expires.Equal(expires.UTC().Truncate(time.Second)) || rec.Created.IsZero() {
		t.Errorf("record %+v", rec)
	}
	// Neither the record nor its Secret data holds the secret.
	printed := fmt.Sprintf("%v %+v %#v", rec, rec, rec)
	for k, v := range rec.ToSecretData() {
		printed += k + "=" + string(v) + " "
	}
	if strings.Contains(printed, secret) || strings.Contains(printed, plain) {
		t.Error("record contains the secret")
	}

	other, _ := New("alice", scope, expires, "ci")
	if other == plain {
		t.Fatal("two keys are equal")
	}
}

func TestVerifyAccessKey(t *testing.T) {
	good, goodRec := New("alice", Scope{Project: "p"}, time.Time{}, "laptop")
	revoked, revokedRec := New("alice", Scope{}, time.Time{}, "old")
	revokedRec.Revoked = true
	expired, expiredRec := New("alice", Scope{}, time.Now().Add(-time.Minute), "expired")
	records := map[string]Key{goodRec.ID: goodRec, revokedRec.ID: revokedRec, expiredRec.ID: expiredRec}
	lookup := func(id string) (Key, bool) { rec, ok := records[id]; return rec, ok }

	rec, err := Verify(good, lookup)
	if err != nil || rec.ID != goodRec.ID || rec.Owner != "alice" || rec.Scope.Project != "p" {
		t.Fatalf("good key: %+v, %v", rec, err)
	}

	// Same id, other secret.
	wrongSecret, _ := New("mallory", Scope{}, time.Time{}, "")
	wrongSecret = "gak_" + goodRec.ID + "_" + strings.SplitN(wrongSecret, "_", 3)[2]
	unknownID, _ := New("mallory", Scope{}, time.Time{}, "")

	tests := []struct {
		name, plaintext string
		want            error
	}{
		{"wrong secret", wrongSecret, ErrInvalid},
		{"unknown id", unknownID, ErrInvalid},
		{"revoked", revoked, ErrRevoked},
		{"expired", expired, ErrExpired},
		{"no prefix", strings.TrimPrefix(good, "gak_"), ErrInvalid},
		{"truncated", good[:len(good)-1], ErrInvalid},
		{"padding", good + "=", ErrInvalid},
		{"upper-case id", "gak_" + strings.ToUpper(goodRec.ID) + good[4+len(goodRec.ID):], ErrInvalid},
		{"empty", "", ErrInvalid},
	}
	var unknownMsg, wrongMsg string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Verify(tt.plaintext, lookup)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if tt.plaintext != "" && strings.Contains(err.Error(), tt.plaintext) {
				t.Errorf("error %q contains the key", err)
			}
			if i := strings.LastIndex(tt.plaintext, "_"); i > 0 && len(tt.plaintext)-i > 8 &&
				strings.Contains(err.Error(), tt.plaintext[i+1:]) {
				t.Errorf("error %q contains the secret", err)
			}
			switch tt.name {
			case "unknown id":
				unknownMsg = err.Error()
			case "wrong secret":
				wrongMsg = err.Error()
			}
		})
	}
	if unknownMsg != wrongMsg {
		t.Errorf("unknown id and wrong secret are told apart:\n%s\n%s", unknownMsg, wrongMsg)
	}
}

func TestAccessKeySecretData(t *testing.T) {
	_, rec := New("alice", Scope{Project: "p", VirtualCluster: "v"}, time.Now().Add(time.Hour), "ci")
	rec.Revoked = true
	var back Key
	if err := back.FromSecretData(rec.ToSecretData()); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, rec) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", back, rec)
	}
	// A system key (an integration's) keeps its groups and passivity.
	_, sys := New("argocd_shop", Scope{Project: "shop", VirtualCluster: "dev"}, time.Time{}, "argocd")
	sys.System, sys.Groups, sys.Passive = true, []string{"gantry:project:shop:project-admin", "x"}, true
	var sysBack Key
	if err := sysBack.FromSecretData(sys.ToSecretData()); err != nil || !reflect.DeepEqual(sysBack, sys) {
		t.Fatalf("system key round trip: %v\n got %+v\nwant %+v", err, sysBack, sys)
	}

	_, never := New("alice", Scope{}, time.Time{}, "")
	data := never.ToSecretData()
	if _, ok := data["expires"]; ok {
		t.Error("never-expiring key has an expires entry")
	}
	if err := back.FromSecretData(data); err != nil || !back.Expires.IsZero() {
		t.Fatalf("never-expiring round trip: %+v, %v", back, err)
	}

	for field, value := range map[string]string{
		"id": "NOT-AN-ID", "secretHash": "zz", "owner": "", "created": "yesterday", "expires": "soon", "revoked": "maybe",
	} {
		data := rec.ToSecretData()
		data[field] = []byte(value)
		var k Key
		err := k.FromSecretData(data)
		if err == nil {
			t.Errorf("bad %s accepted", field)
			continue
		}
		if !strings.Contains(err.Error(), "recreate the access key") {
			t.Errorf("error %q does not say how to fix it", err)
		}
		if !reflect.DeepEqual(k, Key{}) {
			t.Errorf("bad %s: record partly filled", field)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	plain, rec := New("alice", Scope{}, time.Time{}, "ci")
	lookup := func(string) (Key, bool) { return rec, true }
	for b.Loop() {
		if _, err := Verify(plain, lookup); err != nil {
			b.Fatal(err)
		}
	}
}
