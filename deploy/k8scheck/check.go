package k8scheck

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// CLI is what the superstep binary accepts: per subcommand, its flags.
type CLI map[string]map[string]bool

// Image is the image make image tags, which every container must run.
type Image struct{ Name, Tag string }

// Check returns every broken invariant of m: the containers run the image,
// their subcommands and flags exist in cli, $(VAR) references are defined,
// ports agree between flags, container ports, probes, Services and peers,
// selectors match the pods, and the worker memory budget follows its limit.
func Check(m *Manifests, cli CLI, img Image) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	for _, ki := range m.Kustomization.Images {
		if ki.Name != img.Name || (ki.NewName != "" && ki.NewName != img.Name) || ki.NewTag != img.Tag {
			fail("kustomization.yaml sets image %s to %s:%s, make image tags %s:%s", ki.Name, ki.NewName, ki.NewTag, img.Name, img.Tag)
		}
	}
	if len(m.StatefulSets) != 1 || len(m.Deployments) != 1 {
		fail("want one coordinator StatefulSet and one worker Deployment, have %d and %d", len(m.StatefulSets), len(m.Deployments))
		return errs
	}
	var sts *appsv1.StatefulSet
	for _, s := range m.StatefulSets {
		sts = s
	}
	var dep *appsv1.Deployment
	for _, d := range m.Deployments {
		dep = d
	}
	for _, pod := range []struct {
		what string
		spec *corev1.PodTemplateSpec
		sel  map[string]string
	}{{"StatefulSet " + sts.Name, &sts.Spec.Template, sts.Spec.Selector.MatchLabels}, {"Deployment " + dep.Name, &dep.Spec.Template, dep.Spec.Selector.MatchLabels}} {
		if !labels.SelectorFromSet(pod.sel).Matches(labels.Set(pod.spec.Labels)) {
			fail("%s: its selector %v does not match its pods %v", pod.what, pod.sel, pod.spec.Labels)
		}
		for _, c := range pod.spec.Spec.InitContainers {
			errs = append(errs, checkContainer(pod.what+" init", pod.spec, c, cli, img, false)...)
		}
		for _, c := range pod.spec.Spec.Containers {
			errs = append(errs, checkContainer(pod.what, pod.spec, c, cli, img, true)...)
			errs = append(errs, checkTLS(pod.what, pod.spec, c, m)...)
		}
	}

	// Coordinators: IDs from the ordinal, --peers from the headless Service.
	c := sts.Spec.Template.Spec.Containers[0]
	_, flags, err := Args(c.Args)
	if err != nil {
		return append(errs, err)
	}
	grpcPort, raftPort := containerPort(c, "grpc"), containerPort(c, "raft")
	headless, ok := m.Services[sts.Spec.ServiceName]
	switch {
	case !ok:
		fail("StatefulSet %s: serviceName %s is no Service", sts.Name, sts.Spec.ServiceName)
	case headless.Spec.ClusterIP != corev1.ClusterIPNone:
		fail("Service %s: the StatefulSet's Service must be headless (clusterIP: None)", headless.Name)
	case !headless.Spec.PublishNotReadyAddresses:
		fail("Service %s: publishNotReadyAddresses must be true, or the raft group cannot form before a member is ready", headless.Name)
	}
	if sts.Spec.Replicas == nil || *sts.Spec.Replicas != 3 && *sts.Spec.Replicas != 5 {
		fail("StatefulSet %s: want 3 or 5 coordinators", sts.Name)
	}
	if sts.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		fail("StatefulSet %s: podManagementPolicy must be Parallel (no pod is ready before a majority runs)", sts.Name)
	}
	dns := func(i int) string {
		return fmt.Sprintf("%s-%d.%s.$(POD_NAMESPACE).svc.cluster.local", sts.Name, i, sts.Spec.ServiceName)
	}
	n := 0
	if sts.Spec.Replicas != nil {
		n = int(*sts.Spec.Replicas)
	}
	var peers, coords []string
	for i := range n {
		peers = append(peers, fmt.Sprintf("%s-%d=%s:%d", sts.Name, i, dns(i), raftPort))
		coords = append(coords, fmt.Sprintf("%s:%d", dns(i), grpcPort))
	}
	wantFlags := map[string]string{
		"id":        "$(POD_NAME)",
		"peers":     strings.Join(peers, ","),
		"advertise": fmt.Sprintf("$(POD_NAME).%s.$(POD_NAMESPACE).svc.cluster.local:%d", sts.Spec.ServiceName, grpcPort),
		"listen":    fmt.Sprintf("0.0.0.0:%d", grpcPort),
		"raft-bind": fmt.Sprintf("0.0.0.0:%d", raftPort),
	}
	for name, want := range wantFlags {
		if got, _ := Value(flags, name); got != want {
			fail("coordinator --%s is %q, want %q", name, got, want)
		}
	}
	if env(c, "POD_NAME") != "metadata.name" || env(c, "POD_NAMESPACE") != "metadata.namespace" {
		fail("coordinator: POD_NAME and POD_NAMESPACE must come from metadata.name and metadata.namespace")
	}
	dataDir, _ := Value(flags, "data-dir")
	if !mounted(c, dataDir, func(v string) bool {
		return slices.ContainsFunc(sts.Spec.VolumeClaimTemplates, func(p corev1.PersistentVolumeClaim) bool { return p.Name == v })
	}) {
		fail("coordinator --data-dir %s is not on a PersistentVolumeClaim of the StatefulSet", dataDir)
	}
	for _, pdb := range m.PDBs {
		sel, err := metaSelector(pdb.Spec.Selector)
		if err != nil || !sel.Matches(labels.Set(sts.Spec.Template.Labels)) {
			fail("PodDisruptionBudget %s does not select the coordinators", pdb.Name)
		}
		if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != n/2+1 {
			fail("PodDisruptionBudget %s: minAvailable must be a majority, %d", pdb.Name, n/2+1)
		}
	}
	if len(m.PDBs) == 0 {
		fail("no PodDisruptionBudget for the coordinators")
	}
	// Services reach the coordinators' named ports.
	for _, svc := range m.Services {
		if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(sts.Spec.Template.Labels)) {
			fail("Service %s selects no coordinator", svc.Name)
		}
		for _, p := range svc.Spec.Ports {
			if p.TargetPort.String() != p.Name || containerPort(c, p.Name) != int(p.Port) {
				fail("Service %s port %s (%d → %s) does not match the coordinator's port %s (%d)", svc.Name, p.Name, p.Port,
					p.TargetPort.String(), p.Name, containerPort(c, p.Name))
			}
		}
	}

	// Workers: the pod IP, the coordinators' names, the memory budget.
	w := dep.Spec.Template.Spec.Containers[0]
	_, wflags, err := Args(w.Args)
	if err != nil {
		return append(errs, err)
	}
	shuffle := containerPort(w, "shuffle")
	for name, want := range map[string]string{
		"advertise":   fmt.Sprintf("$(POD_IP):%d", shuffle),
		"listen":      fmt.Sprintf("0.0.0.0:%d", shuffle),
		"coordinator": strings.Join(coords, ","),
		"memory":      "$(SUPERSTEP_MEMORY_MIB)MiB",
	} {
		if got, _ := Value(wflags, name); got != want {
			fail("worker --%s is %q, want %q", name, got, want)
		}
	}
	if env(w, "POD_IP") != "status.podIP" {
		fail("worker: POD_IP must come from status.podIP")
	}
	errs = append(errs, checkWorkerCert(&dep.Spec.Template, w, m)...)
	var budget *corev1.ResourceFieldSelector
	for _, e := range w.Env {
		if e.Name == "SUPERSTEP_MEMORY_MIB" && e.ValueFrom != nil {
			budget = e.ValueFrom.ResourceFieldRef
		}
	}
	if budget == nil || budget.Resource != "limits.memory" || budget.ContainerName != w.Name || budget.Divisor.String() != "2Mi" {
		fail("worker: SUPERSTEP_MEMORY_MIB must be limits.memory of the worker container divided by 2Mi (half the limit, in MiB)")
	}
	if _, ok := w.Resources.Limits[corev1.ResourceMemory]; !ok {
		fail("worker: no memory limit to derive the budget from")
	}
	return errs
}

var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

func checkContainer(what string, pod *corev1.PodTemplateSpec, c corev1.Container, cli CLI, img Image, probes bool) []error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s container %s: "+format, append([]any{what, c.Name}, args...)...))
	}
	if c.Image != img.Name+":"+img.Tag && c.Image != img.Name {
		fail("image %s, make image tags %s:%s", c.Image, img.Name, img.Tag)
	}
	if len(c.Command) > 0 {
		fail("sets command %q: the image's entrypoint is /superstep", c.Command)
	}
	check := func(args []string, where string) {
		cmd, flags, err := Args(args)
		if err != nil {
			fail("%s: %v", where, err)
			return
		}
		known, ok := cli[cmd]
		if !ok {
			fail("%s: superstep has no subcommand %q", where, cmd)
			return
		}
		for _, f := range flags {
			if !known[f.Name] {
				fail("%s: superstep %s has no flag --%s", where, cmd, f.Name)
			}
		}
	}
	check(c.Args, "args")
	for _, m := range varRef.FindAllStringSubmatch(strings.Join(c.Args, " "), -1) {
		if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == m[1] }) {
			fail("args use $(%s), which is not in its env", m[1])
		}
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
	}{{"readinessProbe", c.ReadinessProbe}, {"livenessProbe", c.LivenessProbe}} {
		if !probes {
			if p.probe != nil {
				fail("an init container has no %s", p.name)
			}
			continue
		}
		if p.probe == nil || p.probe.Exec == nil {
			fail("no exec %s", p.name)
			continue
		}
		cmd := p.probe.Exec.Command
		if len(cmd) < 2 || cmd[0] != "/superstep" || cmd[1] != "health" {
			fail("%s runs %q, want /superstep health", p.name, cmd)
			continue
		}
		var args []string
		args = append(args, "health")
		for i := 2; i+1 < len(cmd); i += 2 {
			args = append(args, cmd[i]+"="+cmd[i+1])
		}
		if len(cmd)%2 != 0 {
			fail("%s: %q has a flag without a value", p.name, cmd)
		}
		check(args, p.name)
		_, flags, _ := Args(args)
		addr, _ := Value(flags, "addr")
		_, port, err := net.SplitHostPort(addr)
		pn, _ := strconv.Atoi(port)
		if err != nil || !slices.ContainsFunc(c.Ports, func(cp corev1.ContainerPort) bool { return int(cp.ContainerPort) == pn }) {
			fail("%s asks %q, which is not a port of the container", p.name, addr)
		}
	}
	for _, vm := range c.VolumeMounts {
		if !slices.ContainsFunc(pod.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == vm.Name }) &&
			vm.Name != "raft" { // the StatefulSet's claim template
			fail("mounts volume %s, which the pod does not have", vm.Name)
		}
	}
	if sc := pod.Spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
		fail("the pod must run as a non-root user (the image's 65532)")
	}
	if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		fail("memory requests and limits must be set")
	}
	return errs
}

func containerPort(c corev1.Container, name string) int {
	for _, p := range c.Ports {
		if p.Name == name {
			return int(p.ContainerPort)
		}
	}
	return -1
}

func env(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			return e.ValueFrom.FieldRef.FieldPath
		}
	}
	return ""
}

// mounted reports whether dir is at or below the mount of a volume ok accepts.
func mounted(c corev1.Container, dir string, ok func(volume string) bool) bool {
	for _, vm := range c.VolumeMounts {
		if (dir == vm.MountPath || strings.HasPrefix(dir, strings.TrimSuffix(vm.MountPath, "/")+"/")) && ok(vm.Name) {
			return true
		}
	}
	return false
}

var errNoSelector = errors.New("no selector")

// tlsDir is the directory a container reads its TLS files from: --tls-dir,
// else SUPERSTEP_TLS_DIR.
func tlsDir(c corev1.Container) string {
	if _, flags, err := Args(c.Args); err == nil {
		if v, ok := Value(flags, "tls-dir"); ok {
			return v
		}
	}
	for _, e := range c.Env {
		if e.Name == "SUPERSTEP_TLS_DIR" {
			return e.Value
		}
	}
	return ""
}

// mountOf is the volume mounted exactly at dir in c, and the mount.
func mountOf(pod *corev1.PodTemplateSpec, c corev1.Container, dir string) (*corev1.Volume, *corev1.VolumeMount) {
	for i, vm := range c.VolumeMounts {
		if strings.TrimSuffix(vm.MountPath, "/") != strings.TrimSuffix(dir, "/") {
			continue
		}
		for j, v := range pod.Spec.Volumes {
			if v.Name == vm.Name {
				return &pod.Spec.Volumes[j], &c.VolumeMounts[i]
			}
		}
	}
	return nil, nil
}

// checkTLS checks that a container's TLS directory is a volume mounted
// read-only exactly there, and that the files reach it: a Secret of the
// manifests that the pod cannot start without, or an emptyDir that an init
// container fills with `certs issue --out` at its own mount of it.
func checkTLS(what string, pod *corev1.PodTemplateSpec, c corev1.Container, m *Manifests) []error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s container %s: "+format, append([]any{what, c.Name}, args...)...))
	}
	dir := tlsDir(c)
	if dir == "" {
		fail("no --tls-dir or SUPERSTEP_TLS_DIR: a non-loopback listen needs TLS")
		return errs
	}
	v, vm := mountOf(pod, c, dir)
	switch {
	case v == nil:
		fail("its TLS directory %s is not where a volume is mounted", dir)
	case !vm.ReadOnly:
		fail("its TLS directory %s must be mounted readOnly", dir)
	case v.Secret != nil:
		if _, ok := m.Secrets[v.Secret.SecretName]; !ok {
			fail("its TLS directory %s is Secret %s, which the manifests do not define", dir, v.Secret.SecretName)
		}
		if v.Secret.Optional != nil && *v.Secret.Optional {
			fail("the TLS Secret %s is optional: the pod would start without its certificates", v.Secret.SecretName)
		}
	case v.EmptyDir != nil:
		if !slices.ContainsFunc(pod.Spec.InitContainers, func(ic corev1.Container) bool { return issues(pod, ic, v.Name) != "" }) {
			fail("its TLS directory %s is emptyDir %s, which no init container fills with `certs issue --out`", dir, v.Name)
		}
	default:
		fail("its TLS directory %s is volume %s, neither a Secret nor an emptyDir an init container fills", dir, v.Name)
	}
	return errs
}

// issues is the --hosts of an init container that runs `certs issue
// --out=DIR` with DIR its mount of volume, "" if it does not. ("-" where
// --hosts is missing, so that the caller still sees it issue.)
func issues(pod *corev1.PodTemplateSpec, ic corev1.Container, volume string) string {
	cmd, flags, err := Args(ic.Args)
	if err != nil || cmd != "certs issue" {
		return ""
	}
	out, _ := Value(flags, "out")
	if v, _ := mountOf(pod, ic, out); v == nil || v.Name != volume {
		return ""
	}
	if h, ok := Value(flags, "hosts"); ok && h != "" {
		return h
	}
	return "-"
}

// checkWorkerCert checks that the worker's certificate names the address
// it advertises: peers dial $(POD_IP) and verify the certificate against
// it, so the init container that issues it must list the advertised host
// in --hosts, with the same downward-API value; the CA key it issues with
// must stay out of the long-running containers.
func checkWorkerCert(pod *corev1.PodTemplateSpec, w corev1.Container, m *Manifests) []error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("worker certificate: "+format, args...))
	}
	_, flags, err := Args(w.Args)
	if err != nil {
		return nil // reported by Check
	}
	adv, _ := Value(flags, "advertise")
	host, _, err := net.SplitHostPort(adv)
	if err != nil {
		fail("--advertise %q is not HOST:PORT", adv)
		return errs
	}
	v, _ := mountOf(pod, w, tlsDir(w))
	if v == nil || v.EmptyDir == nil {
		fail("the worker advertises %s, which no certificate made before the deploy can name: its TLS directory must be an emptyDir issued by an init container", host)
		return errs
	}
	for _, ic := range pod.Spec.InitContainers {
		hosts := issues(pod, ic, v.Name)
		if hosts == "" {
			continue
		}
		if role, _ := Value(mustFlags(ic.Args), "role"); role != "worker" {
			fail("init container %s issues a %q certificate, want --role=worker", ic.Name, role)
		}
		if !slices.Contains(strings.Split(hosts, ","), host) {
			fail("init container %s issues for --hosts=%s, which does not name the advertised host %s", ic.Name, hosts, host)
		}
		for _, m := range varRef.FindAllStringSubmatch(host, -1) {
			if got, want := env(ic, m[1]), env(w, m[1]); got == "" || got != want {
				fail("init container %s has %s from %q, the worker from %q", ic.Name, m[1], got, want)
			}
		}
		caDir, _ := Value(mustFlags(ic.Args), "dir")
		ca, _ := mountOf(pod, ic, caDir)
		if ca == nil || ca.Secret == nil {
			fail("init container %s: --dir=%s (the CA) is not a Secret mounted there", ic.Name, caDir)
			continue
		}
		if _, ok := m.Secrets[ca.Secret.SecretName]; !ok {
			fail("init container %s: the CA is Secret %s, which the manifests do not define", ic.Name, ca.Secret.SecretName)
		}
		for _, c := range pod.Spec.Containers {
			if slices.ContainsFunc(c.VolumeMounts, func(vm corev1.VolumeMount) bool { return vm.Name == ca.Name }) {
				fail("container %s mounts the CA volume %s: the CA key must stay in the init container", c.Name, ca.Name)
			}
		}
		return errs
	}
	fail("no init container issues the worker's certificate into volume %s", v.Name)
	return errs
}

func mustFlags(args []string) []Flag {
	_, flags, _ := Args(args)
	return flags
}
