// Package samtemplate reads the project's SAM template (template.yaml) so that the local
// stand-ins, the local runtime and the tests take the table, queues, secret and function
// settings from the one file that is deployed, instead of keeping a second copy in code.
package samtemplate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Template is a parsed template. Values are plain Go values (map[string]any, []any, string,
// int, bool); intrinsic functions in short form (!Ref, !GetAtt, ...) are turned into their
// long form ({"Ref": x}, {"Fn::GetAtt": [a, b]}, ...), as CloudFormation does.
type Template struct {
	Parameters map[string]any
	Globals    map[string]any
	Resources  map[string]Resource
	Outputs    map[string]any
}

// Resource is one entry under Resources.
type Resource struct {
	Type       string
	Properties map[string]any
	Metadata   map[string]any
}

// Load reads and parses the template at path.
func Load(path string) (*Template, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	return Parse(b)
}

// Find walks up from dir to the directory holding template.yaml and returns its path.
func Find(dir string) (string, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(d, "template.yaml")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", errors.New("template.yaml not found in any parent directory")
		}
		d = parent
	}
}

// Parse parses template YAML.
func Parse(b []byte) (*Template, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	if len(root.Content) == 0 {
		return nil, errors.New("parse template: empty document")
	}
	v, err := decode(root.Content[0])
	if err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("parse template: top level is not a mapping")
	}
	t := &Template{
		Parameters: asMap(doc["Parameters"]),
		Globals:    asMap(doc["Globals"]),
		Outputs:    asMap(doc["Outputs"]),
		Resources:  map[string]Resource{},
	}
	for name, rv := range asMap(doc["Resources"]) {
		rm := asMap(rv)
		typ, _ := rm["Type"].(string)
		t.Resources[name] = Resource{Type: typ, Properties: asMap(rm["Properties"]), Metadata: asMap(rm["Metadata"])}
	}
	return t, nil
}

var shortTags = map[string]string{
	"!Ref": "Ref", "!GetAtt": "Fn::GetAtt", "!Sub": "Fn::Sub", "!If": "Fn::If", "!Not": "Fn::Not",
	"!Equals": "Fn::Equals", "!Join": "Fn::Join", "!Select": "Fn::Select", "!Split": "Fn::Split",
	"!And": "Fn::And", "!Or": "Fn::Or", "!GetAZs": "Fn::GetAZs", "!ImportValue": "Fn::ImportValue",
	"!FindInMap": "Fn::FindInMap", "!Base64": "Fn::Base64", "!Condition": "Condition",
}

func decode(n *yaml.Node) (any, error) {
	if long, ok := shortTags[n.Tag]; ok {
		inner := *n
		inner.Tag = ""
		switch n.Kind {
		case yaml.ScalarNode:
			inner.Tag = "!!str"
		case yaml.SequenceNode:
			inner.Tag = "!!seq"
		case yaml.MappingNode:
			inner.Tag = "!!map"
		}
		v, err := decode(&inner)
		if err != nil {
			return nil, err
		}
		if long == "Fn::GetAtt" {
			if s, ok := v.(string); ok {
				a, b, _ := strings.Cut(s, ".")
				v = []any{a, b}
			}
		}
		return map[string]any{long: v}, nil
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return decode(n.Content[0])
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := decode(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := decode(c)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, nil
	case yaml.AliasNode:
		return decode(n.Alias)
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return v, nil
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	if m == nil {
		return map[string]any{}
	}
	return m
}

// ResourcesOfType returns the logical ids of resources of the given type, sorted.
func (t *Template) ResourcesOfType(typ string) []string {
	var ids []string
	for id, r := range t.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// ParameterDefault returns a parameter's default as a string.
func (t *Template) ParameterDefault(name string) (string, bool) {
	p := asMap(t.Parameters[name])
	d, ok := p["Default"]
	if !ok {
		return "", false
	}
	return fmt.Sprint(d), true
}

// Function is a serverless function with the Globals merged in, as SAM does.
type Function struct {
	LogicalID   string
	CodeUri     string
	BuildMethod string
	Handler     string
	Runtime     string
	Timeout     int
	MemorySize  int
	Environment map[string]any // variable -> raw value (string or intrinsic)
	Events      map[string]Event
	Policies    []any
}

// Event is a function's event source.
type Event struct {
	Type       string
	Properties map[string]any
}

// Functions returns every AWS::Serverless::Function with Globals.Function merged.
func (t *Template) Functions() []Function {
	g := asMap(t.Globals["Function"])
	var out []Function
	for _, id := range t.ResourcesOfType("AWS::Serverless::Function") {
		r := t.Resources[id]
		p := r.Properties
		f := Function{LogicalID: id, Environment: map[string]any{}, Events: map[string]Event{}}
		f.CodeUri, _ = pick(p, g, "CodeUri").(string)
		f.Handler, _ = pick(p, g, "Handler").(string)
		f.Runtime, _ = pick(p, g, "Runtime").(string)
		f.Timeout = toInt(pick(p, g, "Timeout"))
		f.MemorySize = toInt(pick(p, g, "MemorySize"))
		f.BuildMethod, _ = r.Metadata["BuildMethod"].(string)
		for k, v := range asMap(asMap(asMap(g["Environment"])["Variables"])) {
			f.Environment[k] = v
		}
		for k, v := range asMap(asMap(asMap(p["Environment"])["Variables"])) {
			f.Environment[k] = v
		}
		for name, ev := range asMap(p["Events"]) {
			em := asMap(ev)
			typ, _ := em["Type"].(string)
			f.Events[name] = Event{Type: typ, Properties: asMap(em["Properties"])}
		}
		if pol, ok := p["Policies"].([]any); ok {
			f.Policies = pol
		}
		out = append(out, f)
	}
	return out
}

// Function returns the function with the logical id.
func (t *Template) Function(id string) (Function, bool) {
	for _, f := range t.Functions() {
		if f.LogicalID == id {
			return f, true
		}
	}
	return Function{}, false
}

func pick(p, g map[string]any, key string) any {
	if v, ok := p[key]; ok {
		return v
	}
	return g[key]
}

func toInt(v any) int {
	switch x := v.(type) {
	case int:
		return x
	case float64:
		return int(x)
	case string:
		n, _ := strconv.Atoi(x)
		return n
	}
	return 0
}

// Table describes an AWS::DynamoDB::Table as the store relies on it.
type Table struct {
	LogicalID    string
	HashKey      string
	RangeKey     string
	Attributes   map[string]string // name -> S/N/B
	GSIs         []Index
	TTLAttribute string
	BillingMode  string
	PITR         bool
	SSE          bool
}

// Index is a global secondary index.
type Index struct {
	Name, HashKey, RangeKey, Projection string
}

// Table returns the DynamoDB table with the logical id.
func (t *Template) Table(id string) (Table, error) {
	r, ok := t.Resources[id]
	if !ok || r.Type != "AWS::DynamoDB::Table" {
		return Table{}, fmt.Errorf("no AWS::DynamoDB::Table %q in template", id)
	}
	p := r.Properties
	tb := Table{LogicalID: id, Attributes: map[string]string{}}
	for _, a := range asSlice(p["AttributeDefinitions"]) {
		am := asMap(a)
		tb.Attributes[fmt.Sprint(am["AttributeName"])] = fmt.Sprint(am["AttributeType"])
	}
	tb.HashKey, tb.RangeKey = keys(p["KeySchema"])
	for _, g := range asSlice(p["GlobalSecondaryIndexes"]) {
		gm := asMap(g)
		h, rk := keys(gm["KeySchema"])
		proj, _ := asMap(gm["Projection"])["ProjectionType"].(string)
		tb.GSIs = append(tb.GSIs, Index{Name: fmt.Sprint(gm["IndexName"]), HashKey: h, RangeKey: rk, Projection: proj})
	}
	ttl := asMap(p["TimeToLiveSpecification"])
	if en, _ := ttl["Enabled"].(bool); en {
		tb.TTLAttribute, _ = ttl["AttributeName"].(string)
	}
	tb.BillingMode, _ = p["BillingMode"].(string)
	tb.PITR, _ = asMap(p["PointInTimeRecoverySpecification"])["PointInTimeRecoveryEnabled"].(bool)
	tb.SSE, _ = asMap(p["SSESpecification"])["SSEEnabled"].(bool)
	return tb, nil
}

func keys(v any) (hash, rng string) {
	for _, k := range asSlice(v) {
		km := asMap(k)
		switch km["KeyType"] {
		case "HASH":
			hash = fmt.Sprint(km["AttributeName"])
		case "RANGE":
			rng = fmt.Sprint(km["AttributeName"])
		}
	}
	return hash, rng
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// Queue describes an AWS::SQS::Queue.
type Queue struct {
	LogicalID         string
	VisibilityTimeout int
	RetentionSeconds  int
	DeadLetterTarget  string // logical id of the DLQ, from RedrivePolicy.deadLetterTargetArn
	MaxReceiveCount   int
	SSE               bool
}

// Queues returns every SQS queue, DLQs first (so they can be created before their sources).
func (t *Template) Queues() []Queue {
	var qs []Queue
	for _, id := range t.ResourcesOfType("AWS::SQS::Queue") {
		p := t.Resources[id].Properties
		q := Queue{LogicalID: id, VisibilityTimeout: toInt(p["VisibilityTimeout"]), RetentionSeconds: toInt(p["MessageRetentionPeriod"])}
		q.SSE, _ = p["SqsManagedSseEnabled"].(bool)
		rp := asMap(p["RedrivePolicy"])
		if len(rp) > 0 {
			q.MaxReceiveCount = toInt(rp["maxReceiveCount"])
			if ga := asSlice(asMap(rp["deadLetterTargetArn"])["Fn::GetAtt"]); len(ga) == 2 {
				q.DeadLetterTarget = fmt.Sprint(ga[0])
			}
		}
		qs = append(qs, q)
	}
	sort.SliceStable(qs, func(i, j int) bool { return qs[i].DeadLetterTarget == "" && qs[j].DeadLetterTarget != "" })
	return qs
}

// Secret describes an AWS::SecretsManager::Secret.
type Secret struct {
	LogicalID      string
	Name           any // string or intrinsic (usually !Sub)
	PasswordLength int
}

// Secrets returns every Secrets Manager secret.
func (t *Template) Secrets() []Secret {
	var out []Secret
	for _, id := range t.ResourcesOfType("AWS::SecretsManager::Secret") {
		p := t.Resources[id].Properties
		out = append(out, Secret{LogicalID: id, Name: p["Name"], PasswordLength: toInt(asMap(p["GenerateSecretString"])["PasswordLength"])})
	}
	return out
}
