package testutil

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFreePortIsFree(t *testing.T) {
	port, err := FreePort()
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	require.NoError(t, err, "the port FreePort returned must be free to listen on")
	require.NoError(t, l.Close())
}

func TestGetOK(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/health":
			_, _ = w.Write([]byte(`{"health":"true"}`))
		default:
			http.Error(w, "no such page", http.StatusNotFound)
		}
	}))
	defer srv.Close()
	ctx := context.Background()

	require.NoError(t, GetOK(ctx, srv.URL+"/health", ""))
	require.NoError(t, GetOK(ctx, srv.URL+"/health", `"health":"true"`))
	require.ErrorContains(t, GetOK(ctx, srv.URL+"/health", `"health":"false"`), `{"health":"true"}`,
		"a body without the wanted text fails and is quoted")
	require.ErrorContains(t, GetOK(ctx, srv.URL+"/missing", ""), "404 Not Found")
}
