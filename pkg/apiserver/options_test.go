package apiserver

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewOptionsDefaults(t *testing.T) {
	t.Setenv(EnvDatabaseURL, "postgres://from-env/sluice")
	o := NewOptions()
	assert.Equal(t, PostgresOptions{
		DatabaseURL:            "postgres://from-env/sluice",
		Migrate:                true,
		CompactionWindow:       5 * time.Minute,
		CompactionMinRevisions: 1000,
		MaxObjectSize:          "15Mi",
		StorageMediaType:       "application/vnd.kubernetes.protobuf",
	}, o.Postgres)
	assert.Nil(t, o.RecommendedOptions.Etcd, "storage is PostgreSQL")
	size, err := o.maxObjectSize()
	require.NoError(t, err)
	assert.Equal(t, 15<<20, size)
	assert.NoError(t, o.Validate(), "the defaults with a database URL are valid")
	// NamespaceName refuses a namespace no namespace can be named before
	// NamespaceLifecycle looks it up (and answers some with a 500).
	order := o.RecommendedOptions.Admission.RecommendedPluginOrder
	require.NotEmpty(t, order)
	assert.Equal(t, "NamespaceName", order[0])
	assert.Contains(t, order, "NamespaceLifecycle")
}

func TestFlags(t *testing.T) {
	t.Setenv(EnvDatabaseURL, "postgres://from-env/sluice")
	o := NewOptions()
	fs := pflag.NewFlagSet("sluice-apiserver", pflag.ContinueOnError)
	o.AddFlags(fs)

	for flag, def := range map[string]string{
		"database-url":             "postgres://from-env/sluice",
		"database-max-conns":       "0",
		"database-migrate":         "true",
		"compaction-window":        "5m0s",
		"compaction-min-revisions": "1000",
		"max-object-size":          "15Mi",
		"watch-cache":              "false",
		"storage-media-type":       "application/vnd.kubernetes.protobuf",
	} {
		f := fs.Lookup(flag)
		if assert.NotNil(t, f, "--%s", flag) {
			assert.Equal(t, def, f.DefValue, "default of --%s", flag)
		}
	}
	for _, flag := range []string{"etcd-servers", "etcd-prefix", "storage-backend"} {
		assert.Nil(t, fs.Lookup(flag), "no etcd flag --%s", flag)
	}
	for _, flag := range []string{"secure-port", "authentication-kubeconfig", "authorization-kubeconfig", "emulated-version"} {
		assert.NotNil(t, fs.Lookup(flag), "the generic server's --%s", flag)
	}

	require.NoError(t, fs.Parse([]string{
		"--database-url=postgres://flag/sluice",
		"--database-max-conns=7",
		"--database-migrate=false",
		"--compaction-window=90s",
		"--compaction-min-revisions=5",
		"--max-object-size=1Mi",
		"--watch-cache",
		"--storage-media-type=application/json",
	}))
	assert.Equal(t, PostgresOptions{
		DatabaseURL:            "postgres://flag/sluice",
		MaxConns:               7,
		Migrate:                false,
		CompactionWindow:       90 * time.Second,
		CompactionMinRevisions: 5,
		MaxObjectSize:          "1Mi",
		WatchCache:             true,
		StorageMediaType:       "application/json",
	}, o.Postgres)
	assert.NoError(t, o.Validate())
	size, err := o.maxObjectSize()
	require.NoError(t, err)
	assert.Equal(t, 1<<20, size)
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*PostgresOptions)
		want   []string
	}{
		{"no database URL", func(p *PostgresOptions) { p.DatabaseURL = "" }, []string{"--database-url (or $SLUICE_DATABASE_URL) is required"}},
		{"a size that is no quantity", func(p *PostgresOptions) { p.MaxObjectSize = "big" }, []string{`--max-object-size="big": want a positive quantity such as 15Mi`}},
		{"a size of zero", func(p *PostgresOptions) { p.MaxObjectSize = "0" }, []string{`--max-object-size="0"`}},
		{"a negative size", func(p *PostgresOptions) { p.MaxObjectSize = "-1Mi" }, []string{`--max-object-size="-1Mi"`}},
		{"a size no watch can take", func(p *PostgresOptions) { p.MaxObjectSize = "16Mi" },
			[]string{`--max-object-size="16Mi": at most 16773120 bytes (16Mi - 4Ki): client-go's watches`}},
		{"no compaction window", func(p *PostgresOptions) { p.CompactionWindow = 0 }, []string{"--compaction-window must be positive"}},
		{"a negative compaction window", func(p *PostgresOptions) { p.CompactionWindow = -time.Minute }, []string{"--compaction-window must be positive"}},
		{"an encoding the storage does not write", func(p *PostgresOptions) { p.StorageMediaType = "application/cbor" },
			[]string{`--storage-media-type="application/cbor": want application/vnd.kubernetes.protobuf or application/json`}},
		{"every error at once", func(p *PostgresOptions) { *p = PostgresOptions{MaxObjectSize: "x"} },
			[]string{"--database-url", "--max-object-size", "--storage-media-type", "--compaction-window"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvDatabaseURL, "postgres://from-env/sluice")
			o := NewOptions()
			tc.change(&o.Postgres)
			err := o.Validate()
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Equal(t, len(tc.want), strings.Count(err.Error(), "--"), "one error per bad option: %v", err)
		})
	}
}
