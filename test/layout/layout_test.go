// Package layout checks which way the imports point (ARCHITECTURE.md): the product never
// imports the lab, adapters never import a use case, domain packages import no adapter. It
// reads the real import graph with `go list`, so a new package is checked without a change here.
package layout

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/pilotdesk/pilotdesk/"

// Roles of the product's packages (paths below the module).
var (
	domain    = []string{"pkg/review", "pkg/link", "pkg/cursor", "pkg/token", "pkg/connection", "pkg/errs", "pkg/loopback", "pkg/ledger", "pkg/reviewer", "pkg/metrics"}
	adapters  = []string{"pkg/store", "pkg/gorgias", "pkg/trustpilot", "pkg/queue", "pkg/secrets", "pkg/stack"}
	useCases  = []string{"pkg/reviewsync", "pkg/reply", "pkg/scheduler", "pkg/sidebar", "pkg/connect"}
	wiring    = []string{"pkg/app", "pkg/connector", "pkg/webhook", "pkg/worker", "pkg/cli"}
	awsSDK    = "github.com/aws/aws-sdk-go-v2"
	labPrefix = "lab/"
)

type pkg struct {
	ImportPath string
	Deps       []string // every package it imports, directly or not (test files excluded)
}

func list(t *testing.T) map[string]pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Deps", "../../...")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(&out)
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs[strings.TrimPrefix(p.ImportPath, module)] = p
	}
	if len(pkgs) < 20 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

func ours(deps []string) []string {
	var out []string
	for _, d := range deps {
		if rel, ok := strings.CutPrefix(d, module); ok {
			out = append(out, rel)
		}
	}
	return out
}

func within(path string, roots []string) bool {
	return slices.ContainsFunc(roots, func(r string) bool { return path == r || strings.HasPrefix(path, r+"/") })
}

func isProduct(path string) bool {
	return strings.HasPrefix(path, "pkg/") || strings.HasPrefix(path, "functions/") || path == "cmd/pilotdesk"
}

func TestImportsPointOneWay(t *testing.T) {
	pkgs := list(t)
	for _, want := range append(append(append(slices.Clone(domain), adapters...), useCases...), wiring...) {
		if _, ok := pkgs[want]; !ok {
			t.Errorf("package %s is named in this test but does not exist", want)
		}
	}
	for path, p := range pkgs {
		deps := ours(p.Deps)
		for _, d := range deps {
			switch {
			case isProduct(path) && strings.HasPrefix(d, labPrefix):
				t.Errorf("product package %s imports the lab package %s", path, d)
			case within(path, adapters) && (within(d, useCases) || within(d, wiring)):
				t.Errorf("adapter %s imports %s (a use case or wiring)", path, d)
			case within(path, domain) && (within(d, adapters) || within(d, useCases) || within(d, wiring)):
				t.Errorf("domain package %s imports %s", path, d)
			case within(path, useCases) && within(d, wiring):
				t.Errorf("use case %s imports the wiring package %s", path, d)
			}
		}
		if within(path, domain) && slices.ContainsFunc(p.Deps, func(d string) bool { return strings.HasPrefix(d, awsSDK) }) {
			t.Errorf("domain package %s depends on the AWS SDK", path)
		}
	}
}

// The functions' main packages only wire: they import the composition root and the Lambda
// runtime, never a use case or an adapter directly.
func TestFunctionsOnlyWire(t *testing.T) {
	pkgs := list(t)
	for _, fn := range []string{"functions/scheduler", "functions/worker", "functions/webhook"} {
		if _, ok := pkgs[fn]; !ok {
			t.Fatalf("%s missing", fn)
		}
		for _, d := range directImports(t, fn) {
			if within(d, useCases) || within(d, adapters) || d == "pkg/connector" || d == "pkg/backoff" {
				t.Errorf("%s/main.go imports %s directly; build it in pkg/app", fn, d)
			}
		}
	}
}

func directImports(t *testing.T, path string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, "../../"+path).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", path, err)
	}
	return ours(strings.Fields(string(out)))
}
