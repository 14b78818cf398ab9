package samtemplate_test

import (
	"context"
	"debug/elf"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/lab/samtemplate"
	"github.com/pilotdesk/pilotdesk/pkg/config"
	"github.com/pilotdesk/pilotdesk/pkg/metrics"
	"github.com/pilotdesk/pilotdesk/pkg/stack"
	"github.com/pilotdesk/pilotdesk/pkg/store"
)

func load(t *testing.T) (*samtemplate.Template, string) {
	t.Helper()
	path, err := samtemplate.Find(".")
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := samtemplate.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return tpl, filepath.Dir(path)
}

func TestFunctionsAreTheThreeWeBuild(t *testing.T) {
	t.Parallel()
	tpl, _ := load(t)
	var ids []string
	for _, f := range tpl.Functions() {
		ids = append(ids, f.LogicalID)
		if f.Runtime != "provided.al2023" || f.Handler != "bootstrap" || f.BuildMethod != "makefile" {
			t.Errorf("%s: runtime %q handler %q build %q", f.LogicalID, f.Runtime, f.Handler, f.BuildMethod)
		}
		if f.Timeout <= 0 || f.MemorySize < 128 {
			t.Errorf("%s: timeout %d memory %d", f.LogicalID, f.Timeout, f.MemorySize)
		}
	}
	var want []string
	for id := range config.Required {
		want = append(want, id)
	}
	sort.Strings(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("template functions %v, code knows %v", ids, want)
	}
	arch := fmt.Sprint(tpl.Globals["Function"].(map[string]any)["Architectures"])
	if arch != "[arm64]" {
		t.Fatalf("architectures %s, want [arm64]", arch)
	}
}

// Every function's CodeUri builds with its Makefile target, as `sam build` would run it.
func TestEveryFunctionBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds three binaries")
	}
	t.Parallel()
	tpl, root := load(t)
	out := t.TempDir()
	for _, f := range tpl.Functions() {
		if f.CodeUri != "." {
			t.Errorf("%s: CodeUri %q; the Makefile builds from the repository root", f.LogicalID, f.CodeUri)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		cmd := exec.CommandContext(ctx, "make", "-s", "-C", root, "build-"+f.LogicalID, "ARTIFACTS_DIR="+filepath.Join(out, f.LogicalID))
		b, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("make build-%s: %v\n%s", f.LogicalID, err, b)
		}
		checkBootstrap(t, f.LogicalID, filepath.Join(out, f.LogicalID, "bootstrap"))
	}
}

// checkBootstrap fails unless path is what provided.al2023 on arm64 runs: a Linux ELF
// executable for AArch64, statically linked (CGO_ENABLED=0: no interpreter to load).
func checkBootstrap(t *testing.T, id, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Errorf("%s bootstrap is not an ELF binary: %v", id, err)
		return
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 || f.Class != elf.ELFCLASS64 {
		t.Errorf("%s bootstrap is for %v (%v), want %v (%v)", id, f.Machine, f.Class, elf.EM_AARCH64, elf.ELFCLASS64)
	}
	if f.Type != elf.ET_EXEC {
		t.Errorf("%s bootstrap is an ELF %v, want a static executable (%v)", id, f.Type, elf.ET_EXEC)
	}
	if osabi := f.OSABI; osabi != elf.ELFOSABI_NONE && osabi != elf.ELFOSABI_LINUX {
		t.Errorf("%s bootstrap's OS ABI is %v, want Linux", id, osabi)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s bootstrap asks for a dynamic loader; the Makefile builds with CGO_ENABLED=0", id)
		}
	}
}

func TestEnvironmentMatchesCode(t *testing.T) {
	t.Parallel()
	tpl, _ := load(t)
	for _, f := range tpl.Functions() {
		for _, name := range config.Required[f.LogicalID] {
			if _, ok := f.Environment[name]; !ok {
				t.Errorf("%s requires %s but the template does not set it", f.LogicalID, name)
			}
		}
		for name := range f.Environment {
			if !slices.Contains(config.Known, name) && !slices.Contains(config.Runtime, name) {
				t.Errorf("%s: the template sets %s, which no code reads", f.LogicalID, name)
			}
		}
	}
}

func TestTableMatchesStore(t *testing.T) {
	t.Parallel()
	tpl, _ := load(t)
	ids := tpl.ResourcesOfType("AWS::DynamoDB::Table")
	if len(ids) != 1 {
		t.Fatalf("want one table, got %v", ids)
	}
	tb, err := tpl.Table(ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if tb.HashKey != store.AttrPK || tb.RangeKey != store.AttrSK || tb.Attributes[store.AttrPK] != "S" || tb.Attributes[store.AttrSK] != "S" {
		t.Errorf("key schema %+v", tb)
	}
	if len(tb.GSIs) != 1 || tb.GSIs[0].Name != store.IndexGSI1 || tb.GSIs[0].HashKey != store.AttrGSI1PK || tb.GSIs[0].RangeKey != store.AttrGSI1SK || tb.GSIs[0].Projection != "ALL" {
		t.Errorf("index %+v", tb.GSIs)
	}
	if tb.TTLAttribute != store.AttrTTL {
		t.Errorf("TTL attribute %q, store writes %q", tb.TTLAttribute, store.AttrTTL)
	}
	if tb.BillingMode != "PAY_PER_REQUEST" || !tb.PITR || !tb.SSE {
		t.Errorf("billing %q pitr %v sse %v", tb.BillingMode, tb.PITR, tb.SSE)
	}
}

func TestQueues(t *testing.T) {
	t.Parallel()
	tpl, _ := load(t)
	worker, ok := tpl.Function("SyncWorkerFunction")
	if !ok {
		t.Fatal("no SyncWorkerFunction")
	}
	ev := worker.Events["SyncJobs"]
	if ev.Type != "SQS" || fmt.Sprint(ev.Properties["FunctionResponseTypes"]) != "[ReportBatchItemFailures]" {
		t.Fatalf("worker event %+v", ev)
	}
	var main samtemplate.Queue
	for _, q := range tpl.Queues() {
		if !q.SSE {
			t.Errorf("%s is not encrypted", q.LogicalID)
		}
		if q.DeadLetterTarget != "" {
			main = q
		}
	}
	if main.LogicalID == "" || main.MaxReceiveCount != 5 {
		t.Fatalf("sync queue %+v: want a DLQ after 5 receives", main)
	}
	if main.VisibilityTimeout < 6*worker.Timeout {
		t.Fatalf("visibility timeout %d < 6 x worker timeout %d", main.VisibilityTimeout, worker.Timeout)
	}
}

func TestNoWildcardResources(t *testing.T) {
	t.Parallel()
	tpl, _ := load(t)
	for _, f := range tpl.Functions() {
		if len(f.Policies) == 0 {
			t.Errorf("%s has no policy", f.LogicalID)
		}
		for _, p := range f.Policies {
			pm, ok := p.(map[string]any)
			if !ok {
				t.Errorf("%s: policy template %v; want explicit statements", f.LogicalID, p)
				continue
			}
			for _, st := range pm["Statement"].([]any) {
				stm := st.(map[string]any)
				var res []any
				switch r := stm["Resource"].(type) {
				case []any:
					res = r
				default:
					res = []any{r}
				}
				for _, r := range res {
					if s, ok := r.(string); ok && (s == "*" || strings.HasSuffix(s, ":*")) {
						t.Errorf("%s: wildcard resource %q for %v", f.LogicalID, s, stm["Action"])
					}
				}
				for _, a := range stm["Action"].([]any) {
					if strings.Contains(fmt.Sprint(a), "*") {
						t.Errorf("%s: wildcard action %v", f.LogicalID, a)
					}
				}
			}
		}
	}
}

func TestOutputs(t *testing.T) {
	t.Parallel()
	tpl, _ := load(t)
	for _, name := range []string{"WebhookUrl", "TableName", "QueueUrl", "DeadLetterQueueUrl", "WebhookSecretArn"} {
		if _, ok := tpl.Outputs[name]; !ok {
			t.Errorf("missing output %s", name)
		}
	}
}

func TestCfnLint(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("cfn-lint"); err != nil {
		t.Fatal("cfn-lint is not installed (it comes with the machine image; see README)")
	}
	_, root := load(t)
	b, err := exec.Command("cfn-lint", filepath.Join(root, "template.yaml")).CombinedOutput()
	if err != nil {
		t.Fatalf("cfn-lint: %v\n%s", err, b)
	}
}

// Each function may make the table operations its code makes (moto does not check IAM, so a
// missing one would only show in a deployment): the scheduler reads cursors, the call ledger
// and the set-aside list; every function that calls Trustpilot reads the ledger (BatchGetItem).
func TestPoliciesCoverTheTableOperations(t *testing.T) {
	t.Parallel()
	tpl, _ := load(t)
	// Operations on the table itself, and (after "index:") on its gsi1 index.
	need := map[string][]string{
		"SchedulerFunction":       {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "index:dynamodb:Query"},
		"SyncWorkerFunction":      {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query", "index:dynamodb:Query"},
		"HelpdeskWebhookFunction": {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query", "index:dynamodb:Query"},
	}
	for _, f := range tpl.Functions() {
		has := map[string]bool{}
		for _, p := range f.Policies {
			pm, _ := p.(map[string]any)
			sts, _ := pm["Statement"].([]any)
			for _, st := range sts {
				m, _ := st.(map[string]any)
				on := ""
				if strings.Contains(fmt.Sprint(m["Resource"]), "/index/") {
					on = "index:"
				}
				acts, _ := m["Action"].([]any)
				for _, a := range acts {
					has[on+fmt.Sprint(a)] = true
				}
			}
		}
		for _, a := range need[f.LogicalID] {
			if !has[a] {
				t.Errorf("%s may not %s, which its code does", f.LogicalID, a)
			}
		}
	}
}

// The alarms and the dashboard read only metrics the code emits (pkg/metrics), under the
// Function dimension of a function that emits them; each function has a log group with the
// retention parameter; the HTTP API is throttled.
func TestAlarmsReadMetricsTheCodeEmits(t *testing.T) {
	t.Parallel()
	tpl, _ := load(t)
	emitted := map[string]bool{}
	for _, n := range metrics.Names {
		emitted[n] = true
	}
	functions := map[string]bool{"scheduler": true, "worker": true, "webhook": true}
	check := func(where, name string, dims any) {
		if !emitted[name] {
			t.Errorf("%s reads Pilotdesk metric %q, which no code emits", where, name)
		}
		ds, _ := dims.([]any)
		for _, d := range ds {
			m, _ := d.(map[string]any)
			if m["Name"] != "Function" || !functions[fmt.Sprint(m["Value"])] {
				t.Errorf("%s: dimension %v is not Function=<scheduler|worker|webhook>", where, m)
			}
		}
	}
	alarms := 0
	for id, r := range tpl.Resources {
		switch r.Type {
		case "AWS::CloudWatch::Alarm":
			if r.Properties["Namespace"] == metrics.Namespace {
				alarms++
				check(id, fmt.Sprint(r.Properties["MetricName"]), r.Properties["Dimensions"])
			}
			ms, _ := r.Properties["Metrics"].([]any)
			for _, m := range ms {
				stat, _ := m.(map[string]any)["MetricStat"].(map[string]any)
				if metric, _ := stat["Metric"].(map[string]any); metric != nil && metric["Namespace"] == metrics.Namespace {
					alarms++
					check(id, fmt.Sprint(metric["MetricName"]), metric["Dimensions"])
				}
			}
		case "AWS::CloudWatch::Dashboard":
			body := fmt.Sprint(r.Properties["DashboardBody"])
			for _, m := range regexp.MustCompile(`\["Pilotdesk","([A-Za-z0-9]+)","Function","([a-z]+)"`).FindAllStringSubmatch(body, -1) {
				if !emitted[m[1]] || !functions[m[2]] {
					t.Errorf("dashboard reads %s of %s, which the code does not emit", m[1], m[2])
				}
			}
		}
	}
	if alarms < 3 {
		t.Errorf("%d alarms on Pilotdesk metrics, want re-authorising, sync lag and reply failures", alarms)
	}
	groups := 0
	for _, r := range tpl.Resources {
		if r.Type == "AWS::Logs::LogGroup" {
			groups++
			if !strings.Contains(fmt.Sprint(r.Properties["RetentionInDays"]), "LogRetentionDays") {
				t.Errorf("log group %v keeps logs forever", r.Properties["LogGroupName"])
			}
		}
	}
	if groups != len(tpl.Functions()) {
		t.Errorf("%d log groups for %d functions", groups, len(tpl.Functions()))
	}
	if !strings.Contains(fmt.Sprint(tpl.Globals["HttpApi"]), "ThrottlingRateLimit") {
		t.Error("the HTTP API has no default throttling")
	}
}

// Every output the CLI reads from a deployed stack is one the template declares.
func TestCLIReadsTheTemplatesOutputs(t *testing.T) {
	t.Parallel()
	tpl, _ := load(t)
	for key := range stack.Outputs {
		if _, ok := tpl.Outputs[key]; !ok {
			t.Errorf("the CLI reads output %s, which template.yaml does not declare", key)
		}
	}
}
