package syncer

import (
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

var hexSuffix = regexp.MustCompile(`-[0-9a-f]{10}$`)

func TestHostName(t *testing.T) {
	long := strings.Repeat("a", 40)
	tests := []struct {
		name, namespace, vcluster string
		want                      string // "" means: hashed, checked by shape
	}{
		{"web", "default", "vc1", "web-x-default-x-vc1"},
		{"kube-root-ca.crt", "team-a", "dev", "kube-root-ca.crt-x-team-a-x-dev"},
		// 63 characters exactly: kept as is.
		{strings.Repeat("n", 63-len("-x-ns-x-vc")), "ns", "vc", strings.Repeat("n", 63-len("-x-ns-x-vc")) + "-x-ns-x-vc"},
		// 64 characters: hashed.
		{strings.Repeat("n", 64-len("-x-ns-x-vc")), "ns", "vc", ""},
		{long, long, "vc1", ""},
	}
	for _, tt := range tests {
		got := HostName(tt.name, tt.namespace, tt.vcluster)
		full := tt.name + "-x-" + tt.namespace + "-x-" + tt.vcluster
		if tt.want != "" {
			if got != tt.want {
				t.Errorf("HostName(%q, %q, %q) = %q, want %q", tt.name, tt.namespace, tt.vcluster, got, tt.want)
			}
			continue
		}
		if len(got) != 63 || !strings.HasPrefix(got, full[:52]+"-") || !hexSuffix.MatchString(got) {
			t.Errorf("HostName of a %d-character name = %q (%d chars); want the first 52 characters, a dash and 10 hex digits", len(full), got, len(got))
		}
		if got != HostName(tt.name, tt.namespace, tt.vcluster) {
			t.Errorf("HostName is not deterministic for %q", full)
		}
	}
}

func TestHostNameHashKeepsLongNamesApart(t *testing.T) {
	prefix := strings.Repeat("p", 60)
	a, b := HostName(prefix+"-a", "ns", "vc"), HostName(prefix+"-b", "ns", "vc")
	if a == b {
		t.Fatalf("two names with a common 60-character prefix both became %q", a)
	}
}

func TestHostNameIsValidForEveryKind(t *testing.T) {
	for _, n := range []string{
		HostName(strings.Repeat("w", 80), "default", "vc1"),
		// A dot right before the cut would leave ".-", which no DNS subdomain allows.
		HostName(strings.Repeat("c", 51)+".crt", "default", "vc1"),
	} {
		if msgs := validation.IsDNS1123Subdomain(n); len(msgs) > 0 {
			t.Errorf("%q is not a DNS subdomain: %v", n, msgs)
		}
		if len(n) > 63 {
			t.Errorf("%q is longer than a DNS label", n)
		}
	}
	svc := HostName(strings.Repeat("s", 70), "ns", "vc")
	if msgs := validation.IsDNS1035Label(svc); len(msgs) > 0 {
		t.Errorf("service name %q is not a DNS-1035 label: %v", svc, msgs)
	}
}

func TestTokenSecretName(t *testing.T) {
	if got := tokenSecretName("web-x-default-x-vc1"); got != "web-x-default-x-vc1-sa-token" {
		t.Errorf("got %q", got)
	}
	if got := tokenSecretName(HostName(strings.Repeat("w", 80), "default", "vc1")); len(got) > 63 {
		t.Errorf("token secret name %q longer than 63", got)
	}
}
