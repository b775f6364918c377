// Package patroni starts a throw-away high-availability PostgreSQL cluster
// managed by Patroni, for tests that fail it over: two PostgreSQL members on
// 127.0.0.1 ports with synchronous replication, each run by its own Patroni,
// which elect a primary through etcd.
//
// The pieces all come from what the project already installs: Patroni from
// Debian's patroni package (hack/install-patroni.sh, 3.0.2 on bookworm), the
// PostgreSQL server binaries pkg/testing/postgres finds (hack/install-postgres.sh),
// and etcd from the pinned control plane (`make tools`). Nothing comes from
// pip.
//
// Why etcd, and not the kube-apiserver, as Patroni's DCS: Patroni's
// Kubernetes DCS assumes it runs in a Pod; it labels its own Pod object (named
// after the member) with its role on every loop, so a test would have to
// create and keep Pod objects for processes that are not Pods, and start
// kube-apiserver (with its PKI and its own etcd) only to store a lock. The
// etcd DCS needs one process that starts in about a second, maps Patroni's
// leader TTL onto an etcd lease, and is the DCS most Patroni deployments
// outside Kubernetes run on. What the tests exercise — a primary lost, the
// synchronous standby promoted, a client following it through a multi-host
// URL — does not depend on which DCS holds the lock.
//
// Cluster.URL is the multi-host URL a client uses
// (postgres://…@127.0.0.1:p1,127.0.0.1:p2/db?target_session_attrs=read-write):
// the client connects to whichever member accepts writes. The cluster is run
// with a short leader TTL (10 s, a 1 s loop) and primary_start_timeout 0, so
// that Patroni fails over rather than restarting a crashed primary in place.
// A test can:
//
//   - ask which member is the primary (Primary), and wait for a new one
//     (WaitForNewPrimary) or for a primary with a streaming synchronous
//     standby (WaitHealthy), through Patroni's REST API (/primary, /sync,
//     /cluster) and PostgreSQL itself, with deadlines, never sleeps;
//   - Kill a member (SIGKILL to its Patroni, then to its postmaster: the
//     machine is gone; the standby is promoted once the leader's lease
//     expires) and Restart it later, when Patroni rejoins it as a replica
//     of the new primary, with pg_rewind when its WAL diverged, or a new
//     copy when that fails;
//   - KillPostmaster: SIGKILL to the postmaster alone, with Patroni left
//     running; Patroni fails over at once and brings the old primary back as
//     a replica by itself;
//   - Switchover: a planned switchover through patronictl.
//
// Every process logs to a file in the cluster's directory (LogTails prints
// the ends of them for a failing test). Patroni and etcd are killed if the
// test process dies; PostgreSQL servers, which Patroni detaches on purpose,
// are reaped by the next Start, as pkg/testing/postgres reaps its own.
package patroni
