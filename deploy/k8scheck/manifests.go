package k8scheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

// Manifests are the decoded objects of a manifest directory.
type Manifests struct {
	Kustomization Kustomization
	Services      map[string]*corev1.Service
	StatefulSets  map[string]*appsv1.StatefulSet
	Deployments   map[string]*appsv1.Deployment
	PDBs          map[string]*policyv1.PodDisruptionBudget
	Secrets       map[string]*corev1.Secret
	PVCs          map[string]*corev1.PersistentVolumeClaim
}

// Kustomization is the part of kustomization.yaml these manifests use
// (decoded strictly too: a field outside it is an error).
type Kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
	Labels     []struct {
		Pairs map[string]string `json:"pairs"`
	} `json:"labels,omitempty"`
	Images []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
	} `json:"images,omitempty"`
}

// strict decodes YAML into v, failing on fields v does not have.
func strict(doc []byte, v any) error {
	j, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// splitDocs cuts a YAML stream at its "---" lines, dropping empty documents.
func splitDocs(b []byte) [][]byte {
	var docs [][]byte
	for _, d := range bytes.Split(append([]byte("\n"), b...), []byte("\n---")) {
		if len(bytes.TrimSpace(stripComments(d))) > 0 {
			docs = append(docs, d)
		}
	}
	return docs
}

func stripComments(b []byte) []byte {
	var out []byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if t := bytes.TrimSpace(l); len(t) > 0 && t[0] != '#' {
			out = append(out, l...)
			out = append(out, '\n')
		}
	}
	return out
}

// Load decodes every manifest of dir strictly into its k8s.io/api type.
// Every YAML file must be listed in kustomization.yaml and every listed
// resource must exist.
func Load(dir string) (*Manifests, error) {
	m := &Manifests{Services: map[string]*corev1.Service{}, StatefulSets: map[string]*appsv1.StatefulSet{},
		Deployments: map[string]*appsv1.Deployment{}, PDBs: map[string]*policyv1.PodDisruptionBudget{},
		Secrets: map[string]*corev1.Secret{}, PVCs: map[string]*corev1.PersistentVolumeClaim{}}
	kb, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		return nil, err
	}
	if err := strict(kb, &m.Kustomization); err != nil {
		return nil, fmt.Errorf("kustomization.yaml: %w", err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, f := range files {
		if filepath.Base(f) != "kustomization.yaml" {
			names = append(names, filepath.Base(f))
		}
	}
	res := slices.Clone(m.Kustomization.Resources)
	slices.Sort(res)
	if !slices.Equal(res, names) {
		return nil, fmt.Errorf("kustomization.yaml lists %v, the directory holds %v", res, names)
	}
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		for i, doc := range splitDocs(b) {
			if err := m.add(doc); err != nil {
				return nil, fmt.Errorf("%s (document %d): %w", name, i+1, err)
			}
		}
	}
	return m, nil
}

func (m *Manifests) add(doc []byte) error {
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return err
	}
	type named interface{ GetName() string }
	var obj named
	var put func()
	switch tm.APIVersion + " " + tm.Kind {
	case "v1 Service":
		o := &corev1.Service{}
		obj, put = o, func() { m.Services[o.Name] = o }
	case "apps/v1 StatefulSet":
		o := &appsv1.StatefulSet{}
		obj, put = o, func() { m.StatefulSets[o.Name] = o }
	case "apps/v1 Deployment":
		o := &appsv1.Deployment{}
		obj, put = o, func() { m.Deployments[o.Name] = o }
	case "policy/v1 PodDisruptionBudget":
		o := &policyv1.PodDisruptionBudget{}
		obj, put = o, func() { m.PDBs[o.Name] = o }
	case "v1 Secret":
		o := &corev1.Secret{}
		obj, put = o, func() { m.Secrets[o.Name] = o }
	case "v1 PersistentVolumeClaim":
		o := &corev1.PersistentVolumeClaim{}
		obj, put = o, func() { m.PVCs[o.Name] = o }
	default:
		return fmt.Errorf("unexpected kind %q %q", tm.APIVersion, tm.Kind)
	}
	if err := strict(doc, obj); err != nil {
		return fmt.Errorf("%s: %w", tm.Kind, err)
	}
	if obj.GetName() == "" {
		return fmt.Errorf("%s without metadata.name", tm.Kind)
	}
	put()
	return nil
}

// Flag is one --name=value argument of a container.
type Flag struct{ Name, Value string }

// Args splits a container's arguments into its subcommand and its flags
// (--name=value only: the manifests never pass a value as a separate word,
// so that a flag and its value cannot drift apart).
func Args(args []string) (string, []Flag, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return "", nil, fmt.Errorf("arguments %q do not start with a subcommand", args)
	}
	cmd, rest := args[0], args[1:]
	// A nested subcommand: "certs issue".
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		cmd, rest = cmd+" "+rest[0], rest[1:]
	}
	var flags []Flag
	for _, a := range rest {
		name, value, ok := strings.Cut(a, "=")
		if !strings.HasPrefix(name, "--") || !ok {
			return "", nil, fmt.Errorf("argument %q is not --flag=value", a)
		}
		flags = append(flags, Flag{Name: strings.TrimPrefix(name, "--"), Value: value})
	}
	return cmd, flags, nil
}

// Value is the value of flag name, and whether it is set.
func Value(flags []Flag, name string) (string, bool) {
	for _, f := range flags {
		if f.Name == name {
			return f.Value, true
		}
	}
	return "", false
}
