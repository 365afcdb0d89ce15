// Package k8scheck checks the Kubernetes manifests of deploy/k8s offline (no
// cluster can run here): every manifest decodes strictly into the k8s.io/api
// types, and the invariants between them and the superstep CLI hold (the
// flags exist, the ports agree, the image is the one make image tags). It is
// a separate module so that k8s.io/api stays out of the main go.mod.
package k8scheck
