package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-dev/sluice/pkg/testing/testutil"
)

// EnvDatabaseURL names a PostgreSQL server tests use instead of starting one.
// Its user must be allowed to create databases.
const EnvDatabaseURL = "SLUICE_TEST_DATABASE_URL"

var shared struct {
	once     sync.Once
	server   *Server
	adminDSN string
	err      error
}

// adminDSN returns the DSN of the server that test databases are created on,
// starting the shared server on first use.
func adminDSN() (string, error) {
	shared.once.Do(func() {
		if dsn := os.Getenv(EnvDatabaseURL); dsn != "" {
			shared.adminDSN = dsn
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		shared.server, shared.err = Start(ctx, Options{})
		if shared.err == nil {
			shared.adminDSN = shared.server.DSN("postgres")
		}
	})
	return shared.adminDSN, shared.err
}

// RunMain runs the tests and then stops the shared server, if one was
// started. Use it from TestMain: os.Exit(postgres.RunMain(m)).
func RunMain(m *testing.M) int {
	code := m.Run()
	if shared.server != nil {
		if err := shared.server.Remove(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping test postgres: %v\n", err)
		}
	}
	return code
}

// NewDatabase creates an empty database for one test and returns its DSN.
// The database is dropped when the test ends, so tests can run in parallel
// without seeing each other's rows.
//
// A fuzz target may call it with its *testing.F before f.Fuzz, to share one
// database among all its inputs. Under go test -fuzz that code runs in the
// coordinating process and again in every worker process it starts; the
// workers inherit the coordinator's environment, so NewDatabase names the
// coordinator's server in $SLUICE_TEST_DATABASE_URL until the target ends,
// and the workers create their databases on it instead of each starting a
// server of its own.
func NewDatabase(t testing.TB) string {
	t.Helper()
	admin, err := adminDSN()
	if err != nil {
		t.Fatalf("test postgres: %v", err)
	}
	if f, ok := t.(*testing.F); ok && os.Getenv(EnvDatabaseURL) == "" {
		f.Setenv(EnvDatabaseURL, admin)
	}
	name := "sluice_test_" + randomSuffix()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := testutil.ExecSQL(ctx, admin, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := testutil.ExecSQL(ctx, admin, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	dsn, err := withDatabase(admin, name)
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// withDatabase returns dsn with its database replaced by name.
func withDatabase(dsn, name string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return "", fmt.Errorf("%s must be a postgres:// URL: %q", EnvDatabaseURL, dsn)
	}
	u.Path = "/" + name
	return u.String(), nil
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
