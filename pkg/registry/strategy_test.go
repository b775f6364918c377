package registry

import (
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestValidateNewResourceVersion(t *testing.T) {
	for rv, want := range map[string]string{
		"":    "",
		"0":   "",
		"5":   `metadata.resourceVersion: Invalid value: "5": must not be set on create`,
		"abc": `metadata.resourceVersion: Invalid value: "abc": must not be set on create`,
		"-1":  `metadata.resourceVersion: Invalid value: "-1": must not be set on create`,
	} {
		errs := ValidateNewResourceVersion(&metav1.ObjectMeta{ResourceVersion: rv})
		if want == "" {
			require.Empty(t, errs, "resourceVersion %q", rv)
			continue
		}
		require.Len(t, errs, 1, "resourceVersion %q", rv)
		require.Equal(t, want, errs[0].Error())
	}
}
