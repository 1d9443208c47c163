package v1alpha1

import (
	"slices"
	"testing"
)

func TestSetCascade(t *testing.T) {
	for _, tc := range []struct {
		cascade bool
		policy  string
		want    []string
		err     bool
	}{
		{true, "", []string{"other", ApplicationFinalizer}, false},
		{true, "foreground", []string{"other", ApplicationFinalizer}, false},
		{true, "background", []string{"other", ApplicationBackgroundFinalizer}, false},
		{false, "", []string{"other"}, false},
		{true, "sideways", nil, true},
	} {
		a := &Application{}
		a.SetFinalizers([]string{"other", ApplicationBackgroundFinalizer})
		err := a.SetCascade(tc.cascade, tc.policy)
		if (err != nil) != tc.err {
			t.Errorf("%v %q: err %v", tc.cascade, tc.policy, err)
			continue
		}
		if !tc.err && !slices.Equal(a.GetFinalizers(), tc.want) {
			t.Errorf("%v %q: finalizers %v, want %v", tc.cascade, tc.policy, a.GetFinalizers(), tc.want)
		}
	}
}
