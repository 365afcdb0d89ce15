// Package security holds the checks that keep a Superstep cluster closed:
// names and paths that come over the network (names.go, paths.go), the
// cluster's certificate authority and role certificates (certs.go), TLS
// configurations that reload their files (tlsconf.go), bearer tokens
// (tokens.go) and the gRPC interceptors that enforce roles (auth.go).
//
// Every function here is a decision made in one place: the coordinator,
// the workers and the CLI call the same checks.
package security
