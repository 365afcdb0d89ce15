// Package containertest runs Superstep in real containers: the compose
// cluster of deploy/compose.yaml on a Docker network of its own, jobs
// compared byte for byte with the same jobs run embedded, and faults
// (killed and paused workers, a killed leader, a disconnected network).
// The tests are behind the build tag containers (make test-containers)
// and skip only where `docker info` fails. They drive the plain docker CLI;
// every container, network and volume they create is removed by t.Cleanup.
package containertest
