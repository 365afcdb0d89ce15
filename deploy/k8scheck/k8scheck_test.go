package k8scheck

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const manifestDir = "../k8s"

// buildCLI builds the superstep binary of this checkout and reads the flags
// of the subcommands the manifests use from its --help.
func buildCLI(t *testing.T) CLI {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "superstep")
	build := exec.Command("go", "build", "-o", bin, "./cmd/superstep")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building superstep: %v\n%s", err, out)
	}
	flagLine := regexp.MustCompile(`^\s+(?:-\w, )?--([a-z0-9][a-z0-9-]*)`)
	cli := CLI{}
	for _, cmd := range []string{"coordinator", "worker", "health", "certs issue"} {
		out, err := exec.Command(bin, append(strings.Fields(cmd), "--help")...).Output()
		if err != nil {
			t.Fatalf("superstep %s --help: %v", cmd, err)
		}
		flags := map[string]bool{}
		sc := bufio.NewScanner(strings.NewReader(string(out)))
		for sc.Scan() {
			if m := flagLine.FindStringSubmatch(sc.Text()); m != nil {
				flags[m[1]] = true
			}
		}
		if !flags["help"] || len(flags) < 2 {
			t.Fatalf("superstep %s --help lists no flags:\n%s", cmd, out)
		}
		cli[cmd] = flags
	}
	return cli
}

// makeImage is the image make image tags (read from the Makefile, so that
// renaming it there without here fails).
func makeImage(t *testing.T) Image {
	t.Helper()
	b, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`-t (superstep):(dev)\b`).FindStringSubmatch(string(b))
	if m == nil {
		t.Fatal("the Makefile's image target tags no superstep:dev")
	}
	return Image{Name: m[1], Tag: m[2]}
}

func TestManifests(t *testing.T) {
	m, err := Load(manifestDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Services) != 2 || len(m.PDBs) != 1 || len(m.Secrets) != 2 || len(m.PVCs) != 1 {
		t.Fatalf("decoded %d Services, %d PDBs, %d Secrets, %d PVCs", len(m.Services), len(m.PDBs), len(m.Secrets), len(m.PVCs))
	}
	for _, err := range Check(m, buildCLI(t), makeImage(t)) {
		t.Error(err)
	}
}

// Manifests edited into an invalid state are caught: each edit is applied
// to a copy of the directory, and loading or checking it must fail.
func TestBrokenManifests(t *testing.T) {
	cli, img := buildCLI(t), makeImage(t)
	for _, c := range []struct{ name, file, old, new, want string }{
		{"unknown field", "worker-deployment.yaml", "      containers:", "      containerz:", ""},
		{"misspelt probe field", "coordinator-statefulset.yaml", "periodSeconds: 5", "periodSecond: 5", ""},
		{"flag the CLI rejects", "worker-deployment.yaml", "--allow-path=/data", "--allow-paths=/data", ""},
		{"unknown subcommand", "coordinator-statefulset.yaml", "- coordinator\n", "- coordinatr\n", ""},
		{"port mismatch", "worker-deployment.yaml", "--advertise=$(POD_IP):7071", "--advertise=$(POD_IP):7072", ""},
		{"raft port drift", "coordinator-statefulset.yaml", "containerPort: 7000", "containerPort: 7001", ""},
		{"peer list short", "coordinator-statefulset.yaml", ",superstep-coordinator-2=superstep-coordinator-2.superstep-coordinator.$(POD_NAMESPACE).svc.cluster.local:7000", "", ""},
		{"wrong image", "worker-deployment.yaml", "image: superstep:dev", "image: superstep:latest", ""},
		{"undefined variable", "worker-deployment.yaml", "name: POD_IP", "name: MY_POD_IP", ""},
		{"advertise not the pod IP", "worker-deployment.yaml", "fieldPath: status.podIP\n            - name: POD_NAMESPACE",
			"fieldPath: status.hostIP\n            - name: POD_NAMESPACE", "POD_IP must come from status.podIP"},
		{"probe on no port", "coordinator-statefulset.yaml", `"127.0.0.1:7070", "--timeout", "3s"]
            periodSeconds: 5`, `"127.0.0.1:7099", "--timeout", "3s"]
            periodSeconds: 5`, ""},
		{"service port drift", "client-service.yaml", "port: 7070", "port: 7080", ""},
		{"pdb not a majority", "coordinator-pdb.yaml", "minAvailable: 2", "minAvailable: 1", ""},
		{"file not in kustomization", "kustomization.yaml", "  - data-pvc.yaml\n", "", ""},
		{"root user", "worker-deployment.yaml", "runAsUser: 65532", "runAsUser: 0", ""},
		{"tls secret optional", "coordinator-statefulset.yaml", "secretName: superstep-tls\n            defaultMode: 0400",
			"secretName: superstep-tls\n            optional: true", "the TLS Secret superstep-tls is optional"},
		{"tls secret undefined", "coordinator-statefulset.yaml", "secretName: superstep-tls", "secretName: superstep-certs",
			"Secret superstep-certs, which the manifests do not define"},
		{"tls-dir not the mount", "coordinator-statefulset.yaml", "value: /etc/superstep/tls", "value: /etc/superstep/certs",
			"its TLS directory /etc/superstep/certs is not where a volume is mounted"},
		{"tls dir writable", "worker-deployment.yaml", "mountPath: /etc/superstep/tls\n              readOnly: true",
			"mountPath: /etc/superstep/tls\n              readOnly: false", "must be mounted readOnly"},
		{"worker cert not for its pod IP", "worker-deployment.yaml", "- --hosts=$(POD_IP)", "- --hosts=worker",
			"does not name the advertised host $(POD_IP)"},
		{"worker cert for another IP", "worker-deployment.yaml", "fieldPath: status.podIP", "fieldPath: status.hostIP",
			"init container certs has POD_IP from \"status.hostIP\", the worker from \"status.podIP\""},
		{"worker cert issued elsewhere", "worker-deployment.yaml", "--out=/etc/superstep/tls", "--out=/etc/superstep/ca",
			"which no init container fills with `certs issue --out`"},
		{"worker cert of another role", "worker-deployment.yaml", "--role=worker", "--role=client", "want --role=worker"},
		{"CA key in the worker", "worker-deployment.yaml", "mountPath: /etc/superstep/tls\n              readOnly: true",
			"mountPath: /etc/superstep/tls\n              readOnly: true\n            - name: ca\n              mountPath: /etc/superstep/ca",
			"container worker mounts the CA volume ca"},
		{"CA secret undefined", "worker-deployment.yaml", "secretName: superstep-ca", "secretName: superstep-cert-authority",
			"the CA is Secret superstep-cert-authority, which the manifests do not define"},
		{"certs issue flag the CLI lacks", "worker-deployment.yaml", "--out=/etc/superstep/tls", "--output=/etc/superstep/tls",
			"superstep certs issue has no flag --output"},
		{"probe on an init container", "worker-deployment.yaml", "      containers:\n", "          readinessProbe:\n            exec:\n              command: [\"/superstep\", \"health\"]\n      containers:\n",
			"an init container has no readinessProbe"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			ents, err := os.ReadDir(manifestDir)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, e := range ents {
				b, err := os.ReadFile(filepath.Join(manifestDir, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				s := string(b)
				if e.Name() == c.file {
					if !strings.Contains(s, c.old) {
						t.Fatalf("%s has no %q to edit", c.file, c.old)
					}
					s, found = strings.Replace(s, c.old, c.new, 1), true
				}
				if err := os.WriteFile(filepath.Join(dir, e.Name()), []byte(s), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if !found {
				t.Fatalf("no file %s", c.file)
			}
			m, err := Load(dir)
			if err != nil {
				t.Logf("rejected at load: %v", err)
				return
			}
			errs := Check(m, cli, img)
			if len(errs) == 0 {
				t.Fatal("the broken manifests pass")
			}
			if c.want != "" && !slices.ContainsFunc(errs, func(err error) bool { return strings.Contains(err.Error(), c.want) }) {
				t.Fatalf("rejected, but no error says %q: %v", c.want, errs)
			}
			t.Logf("rejected: %v", errs[0])
		})
	}
}
