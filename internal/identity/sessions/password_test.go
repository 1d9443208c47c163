package sessions

import (
	"errors"
	"strings"
	"testing"
)

func TestHashAndCheckPassword(t *testing.T) {
	hash, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$2a$10$") {
		t.Errorf("hash %q is not bcrypt cost 10", hash)
	}
	if strings.Contains(hash, "correct horse") {
		t.Error("hash contains the password")
	}
	if !CheckPassword(hash, "correct horse battery") {
		t.Error("right password refused")
	}
	for _, wrong := range []string{"", "correct horse batter", "Correct horse battery", "correct horse battery "} {
		if CheckPassword(hash, wrong) {
			t.Errorf("wrong password %q accepted", wrong)
		}
	}
	if CheckPassword("", "anything") {
		t.Error("empty hash (unknown user) accepted a password")
	}
	if CheckPassword("not-a-hash", "not-a-hash") {
		t.Error("malformed hash accepted")
	}
}

func TestHashPasswordTooLong(t *testing.T) {
	_, err := HashPassword(strings.Repeat("x", MaxPasswordBytes+1))
	if !errors.Is(err, ErrPasswordPolicy) {
		t.Fatalf("err = %v, want ErrPasswordPolicy", err)
	}
}

func TestCheckPasswordPolicy(t *testing.T) {
	tests := []struct {
		name, user, password string
		wantIn               []string // substrings of the error; nil: no error
	}{
		{name: "ok", user: "alice", password: "s3cret-enough"},
		{name: "exactly 8", user: "alice", password: "12345678"},
		{name: "8 runes, more bytes", user: "alice", password: "ääääääää"},
		{name: "too short", user: "alice", password: "short", wantIn: []string{"5 characters", "at least 8"}},
		{name: "empty", user: "alice", password: "", wantIn: []string{"0 characters"}},
		{name: "equals user", user: "administrator", password: "administrator", wantIn: []string{"user name"}},
		{name: "equals user, other case", user: "Administrator", password: "administratoR", wantIn: []string{"user name"}},
		{name: "too long", user: "alice", password: strings.Repeat("p", 73), wantIn: []string{"72 bytes"}},
		{name: "short and user", user: "bob", password: "bob", wantIn: []string{"3 characters", "user name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPasswordPolicy(tt.user, tt.password)
			if tt.wantIn == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrPasswordPolicy) {
				t.Fatalf("err = %v, want ErrPasswordPolicy", err)
			}
			for _, want := range tt.wantIn {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if len(tt.password) >= 4 && strings.Contains(err.Error(), tt.password) {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}

func TestGeneratePassword(t *testing.T) {
	seen := map[string]bool{}
	for range 20 {
		pw := GeneratePassword()
		if len(pw) < 20 {
			t.Fatalf("generated password has %d characters, want 20 or more", len(pw))
		}
		if err := CheckPasswordPolicy("admin", pw); err != nil {
			t.Fatalf("generated password fails the policy: %v", err)
		}
		if seen[pw] {
			t.Fatal("generated the same password twice")
		}
		seen[pw] = true
	}
}
