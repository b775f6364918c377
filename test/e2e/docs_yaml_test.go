package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/sluice-dev/sluice/pkg/testing/controlplane"
)

// repoRoot is the repository, seen from this package's directory, where
// go test runs it.
var repoRoot = filepath.Join("..", "..")

// fragmentMarker, as the first line of a documented YAML snippet, says the
// snippet is deliberately not a whole object (part of a spec, or abridged
// with "..."). Such a snippet is parsed, not applied.
const fragmentMarker = "# fragment"

// yamlSnippet is one YAML document from the docs or artifacts/.
type yamlSnippet struct {
	file     string // relative to the repository root
	line     int    // of the document's first line in file
	text     string
	fragment bool
}

func (s yamlSnippet) String() string { return fmt.Sprintf("%s:%d", s.file, s.line) }

// TestDocumentedYAMLApplies applies every YAML snippet a user may copy:
// the ```yaml blocks of README.md and docs/*.md, and every YAML file under
// artifacts/. Each goes through the pinned kubectl against the stack, as a
// user would send it, with a server-side dry run, so that nothing is
// persisted and an object that needs context (a namespace, a Secret, a
// Pipeline) is still checked by the real decoder, defaulting and
// validation. Objects without a namespace go into a test namespace.
//
// A snippet marked "# fragment" is only parsed, strictly, with the YAML
// library kubectl uses, and its keys are checked for YAML 1.1 booleans
// (on, off, yes, no, y, n), which kubectl turns into "true" and "false".
//
// The kustomizations under artifacts/ are built with kubectl kustomize,
// with a throw-away serving certificate where the real install has one from
// hack/gen-deploy-certs, and their output is applied the same way; the
// files they include are checked through them, not alone, because they
// hold placeholders the kustomization replaces.
func TestDocumentedYAMLApplies(t *testing.T) {
	ns := namespace(t, "docs")

	var snippets []yamlSnippet
	docs, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	require.NoError(t, err)
	for _, md := range append([]string{filepath.Join(repoRoot, "README.md")}, docs...) {
		snippets = append(snippets, markdownYAML(t, md)...)
	}
	kustomizations, included, files := artifactFiles(t)
	for _, f := range files {
		if included[f] || slices.Contains(kustomizations, f) {
			continue
		}
		if strings.HasPrefix(f, krewManifest) {
			continue // not for a cluster: TestKrewManifest checks it
		}
		data, err := os.ReadFile(filepath.Join(repoRoot, f))
		require.NoError(t, err)
		snippets = append(snippets, yamlDocuments(f, 1, string(data), false)...)
	}
	require.NotEmpty(t, snippets)

	for _, s := range snippets {
		t.Run(s.String(), func(t *testing.T) {
			if !s.fragment {
				if err := applySnippet(t, s, ns); err != nil {
					t.Fatalf("%s: %v", s, err)
				}
			}
			if err := checkYAML(s); err != nil {
				t.Fatal(err)
			}
			if s.fragment {
				t.Logf("%s: parsed (fragment)", s)
			}
		})
	}

	for _, k := range kustomizations {
		t.Run(k, func(t *testing.T) {
			out := kubectl(t, "kustomize", filepath.Join(kustomizeCopy(t), filepath.Dir(k)))
			for _, doc := range yamlDocuments("build of "+k, 1, out, false) {
				if err := checkYAML(doc); err != nil {
					t.Fatal(err)
				}
			}
			out = withoutCertManager(t, out)
			applied, err := stack.KubectlStdin(testContext(t), out, "apply", "--dry-run=server", "-f", "-")
			if err != nil {
				t.Fatalf("%s: applying its build: %v", k, err)
			}
			t.Logf("%s: built and applied:\n%s", k, applied)
		})
	}
	t.Logf("files checked through a kustomization build: %s", strings.Join(slices.Sorted(maps.Keys(included)), ", "))
}

// withoutCertManager drops the objects of cert-manager's API from a
// build: the stack has no cert-manager, and TestCertManagerOverlay checks
// what the overlay asks of it.
func withoutCertManager(t *testing.T, build string) string {
	t.Helper()
	var kept []string
	for _, doc := range strings.Split(build, "\n---\n") {
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		require.NoError(t, yaml.Unmarshal([]byte(doc), &head))
		if strings.HasPrefix(head.APIVersion, "cert-manager.io/") {
			t.Logf("not applied, the stack has no cert-manager: %s %s", head.APIVersion, head.Kind)
			continue
		}
		kept = append(kept, doc)
	}
	return strings.Join(kept, "\n---\n")
}

// applySnippet sends one whole object to the server with kubectl, in a
// server-side dry run: create for a generateName (apply needs a name),
// apply otherwise.
func applySnippet(t *testing.T, s yamlSnippet, ns string) error {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			GenerateName string `json:"generateName"`
			Namespace    string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal([]byte(s.text), &head); err != nil {
		return err
	}
	if head.APIVersion == "" || head.Kind == "" {
		return fmt.Errorf("not a whole object (no apiVersion or kind): make it one, or mark it %q as its first line", fragmentMarker)
	}
	verb := "apply"
	if head.Metadata.GenerateName != "" {
		verb = "create"
	}
	args := []string{verb, "--dry-run=server", "-f", "-"}
	if head.Metadata.Namespace == "" {
		args = append(args, "--namespace="+ns)
	}
	out, err := stack.KubectlStdin(testContext(t), s.text, args...)
	if err != nil {
		return err
	}
	t.Logf("%s: %s", s, strings.TrimSpace(out))
	return nil
}

var (
	fenceOpen  = regexp.MustCompile("^(\\s*)```\\s*(\\S*)\\s*$")
	fenceClose = regexp.MustCompile("^\\s*```\\s*$")
)

// markdownYAML returns the documents of the ```yaml blocks of a Markdown
// file. A block of another or no language that holds a Kubernetes object
// fails the test: it would escape the check.
func markdownYAML(t *testing.T, path string) []yamlSnippet {
	t.Helper()
	rel, err := filepath.Rel(repoRoot, path)
	require.NoError(t, err)
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()

	var (
		out      []yamlSnippet
		inBlock  bool
		lang     string
		indent   string
		start    int
		body     []string
		lineNo   int
		scanning = bufio.NewScanner(f)
	)
	for scanning.Scan() {
		lineNo++
		line := scanning.Text()
		switch {
		case !inBlock:
			if m := fenceOpen.FindStringSubmatch(line); m != nil {
				inBlock, indent, lang, start, body = true, m[1], m[2], lineNo+1, nil
			}
		case fenceClose.MatchString(line):
			inBlock = false
			text := strings.Join(body, "\n") + "\n"
			switch lang {
			case "yaml", "yml":
				fragment := len(body) > 0 && (body[0] == fragmentMarker || strings.HasPrefix(body[0], fragmentMarker+":"))
				out = append(out, yamlDocuments(rel, start, text, fragment)...)
			default:
				if regexp.MustCompile(`(?m)^apiVersion:`).MatchString(text) {
					t.Errorf("%s:%d: a block holding a Kubernetes object is marked %q, not yaml, so it is never checked", rel, start-1, lang)
				}
			}
		default:
			body = append(body, strings.TrimPrefix(line, indent))
		}
	}
	require.NoError(t, scanning.Err())
	require.False(t, inBlock, "%s:%d: unterminated code block", rel, start-1)
	return out
}

// yamlDocuments splits a YAML stream at its "---" lines. Documents with
// nothing but comments are dropped. A document with a "..." placeholder
// line must be a fragment.
func yamlDocuments(file string, firstLine int, text string, fragment bool) []yamlSnippet {
	var out []yamlSnippet
	var doc []string
	start := firstLine
	flush := func(next int) {
		hasContent := slices.ContainsFunc(doc, func(l string) bool {
			l = strings.TrimSpace(l)
			return l != "" && !strings.HasPrefix(l, "#")
		})
		if hasContent {
			out = append(out, yamlSnippet{file: file, line: start, text: strings.Join(doc, "\n") + "\n", fragment: fragment})
		}
		doc, start = nil, next
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	for i, l := range lines {
		if strings.TrimRight(l, " \t") == "---" {
			flush(firstLine + i + 1)
			continue
		}
		doc = append(doc, l)
	}
	flush(0)
	return out
}

// checkYAML parses a snippet strictly (a duplicated key fails) with the
// library kubectl uses, and fails on a key that YAML 1.1 reads as a
// boolean: kubectl would send it as "true" or "false", which no API field
// is called. An unmarked "..." placeholder fails too.
func checkYAML(s yamlSnippet) error {
	var kept []string
	for i, l := range strings.Split(s.text, "\n") {
		if strings.TrimSpace(l) != "..." {
			kept = append(kept, l)
			continue
		}
		if !s.fragment {
			return fmt.Errorf("%s:%d: a %q placeholder: mark the snippet %q as its first line", s.file, s.line+i, "...", fragmentMarker)
		}
		// A placeholder stands for lines left out: the rest must parse.
	}
	j, err := yaml.YAMLToJSONStrict([]byte(strings.Join(kept, "\n")))
	if err != nil {
		return fmt.Errorf("%s: %w", s, err)
	}
	var v any
	if err := json.Unmarshal(j, &v); err != nil {
		return fmt.Errorf("%s: %w", s, err)
	}
	if path := booleanKey(v, ""); path != "" {
		return fmt.Errorf("%s: key %s is a YAML 1.1 boolean (on, off, yes, no, y or n, unquoted), which kubectl sends as %q", s, path, path[strings.LastIndex(path, ".")+1:])
	}
	return nil
}

// booleanKey returns the path of the first map key "true" or "false"
// in v, or "".
func booleanKey(v any, path string) string {
	switch v := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			if k == "true" || k == "false" {
				return path + "." + k
			}
			if p := booleanKey(v[k], path+"."+k); p != "" {
				return p
			}
		}
	case []any:
		for i, e := range v {
			if p := booleanKey(e, fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
	}
	return ""
}

// artifactFiles returns every YAML file under artifacts/, relative to the
// repository root; the kustomizations that no other kustomization
// includes; and the files some kustomization includes.
func artifactFiles(t *testing.T) (roots []string, included map[string]bool, files []string) {
	t.Helper()
	var kustomizations []string
	err := filepath.WalkDir(filepath.Join(repoRoot, "artifacts"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if ext := filepath.Ext(path); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		rel, err := filepath.Rel(repoRoot, path)
		if err != nil {
			return err
		}
		files = append(files, rel)
		if d.Name() == "kustomization.yaml" {
			kustomizations = append(kustomizations, rel)
		}
		return nil
	})
	require.NoError(t, err)

	included = map[string]bool{}
	for _, k := range kustomizations {
		data, err := os.ReadFile(filepath.Join(repoRoot, k))
		require.NoError(t, err)
		var kust struct {
			Resources []string `json:"resources"`
		}
		require.NoError(t, yaml.Unmarshal(data, &kust), k)
		for _, r := range kust.Resources {
			r = filepath.Join(filepath.Dir(k), r)
			if fi, err := os.Stat(filepath.Join(repoRoot, r)); err == nil && fi.IsDir() {
				r = filepath.Join(r, "kustomization.yaml")
			}
			included[r] = true
		}
	}
	for _, k := range kustomizations {
		if !included[k] {
			roots = append(roots, k)
		}
	}
	return roots, included, files
}

// kustomizeCopy copies artifacts/ into a temporary directory and adds the
// serving certificate that hack/gen-deploy-certs writes for a real install,
// so that the kustomizations build. It returns the copy's parent, which
// stands for the repository root.
func kustomizeCopy(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	src := filepath.Join(repoRoot, "artifacts")
	require.NoError(t, os.CopyFS(filepath.Join(root, "artifacts"), os.DirFS(src)))
	// Certificates a user generated here (git ignores them) are replaced.
	certs := filepath.Join(root, "artifacts", "deploy", "base", "certs")
	require.NoError(t, os.RemoveAll(certs))
	require.NoError(t, os.MkdirAll(certs, 0o700))
	ca, err := controlplane.NewCA(certs, "ca")
	require.NoError(t, err)
	_, err = ca.Issue(certs, "tls", controlplane.CertOptions{CommonName: "sluice-apiserver.sluice-system.svc", Server: true})
	require.NoError(t, err)
	return root
}

// TestCheckYAML shows what the parse of a fragment catches, so that a
// fragment cannot hide the mistake the README once made.
func TestCheckYAML(t *testing.T) {
	fragment := func(text string) yamlSnippet {
		return yamlSnippet{file: "doc.md", line: 10, text: fragmentMarker + "\n" + text, fragment: true}
	}
	require.NoError(t, checkYAML(fragment("notify:\n- events: [Failed]\n  webhook: {url: https://x}\n")))
	require.NoError(t, checkYAML(fragment("steps:\n- name: build\n  ...\n- name: deploy\n")), "a marked placeholder")

	err := checkYAML(fragment("notify:\n- on: [Failed]\n"))
	require.ErrorContains(t, err, "doc.md:10: key .notify[0].true is a YAML 1.1 boolean")
	for _, key := range []string{"yes", "No", "off", "y"} {
		require.Error(t, checkYAML(fragment("spec:\n  "+key+": 1\n")), key)
	}
	require.NoError(t, checkYAML(fragment("spec:\n  \"on\": 1\n  open: 2\n")), "a quoted on, and a key that only starts like one")

	require.ErrorContains(t, checkYAML(yamlSnippet{file: "doc.md", line: 10, text: "kind: Pipeline\n...\n"}),
		`doc.md:11: a "..." placeholder`)
	require.ErrorContains(t, checkYAML(fragment("a: 1\na: 2\n")), "already set")

	docs := yamlDocuments("f.yaml", 1, "# c\n---\na: 1\n---\n# only a comment\n---\nb: 2\n", false)
	require.Len(t, docs, 2)
	require.Equal(t, "f.yaml:3", docs[0].String())
	require.Equal(t, "f.yaml:7", docs[1].String())
}
