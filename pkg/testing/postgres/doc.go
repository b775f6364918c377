// Package postgres starts throw-away PostgreSQL servers for tests, the local
// stack and benchmarks, and hands each test its own empty database.
//
// Tests call NewDatabase(t). When SLUICE_TEST_DATABASE_URL is set, databases
// are created on that server; otherwise one server per test binary is started
// with initdb and pg_ctl in a temp dir on a free 127.0.0.1 port, and stopped
// by RunMain when the tests end. Servers left behind by a test process that
// died are reaped by the next Start. A fuzz target's worker processes create
// their databases on the server of the process that coordinates them.
//
// A server started with Options.DiskFault can have the disk under its
// databases filled and freed again (SetDiskFull), for the tests of what
// Sluice does when PostgreSQL runs out of space (diskfull.go).
package postgres
