package connection_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/pilotdesk/pilotdesk/pkg/connection"
)

func TestParseDesignDocument(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/acme-uk.json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := connection.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != "acme-uk" || c.HelpdeskAccountKey() != "acme.gorgias.com" || !c.Kinds("product") || c.MinStars != 1 {
		t.Fatalf("%+v", c)
	}
	bare, sec := c.SplitSecrets()
	if bare.Helpdesk.APIKey != "" || bare.Trustpilot.APISecret != "" || sec.TrustpilotAPISecret != "tp-secret" || sec.HelpdeskAPIKey != "gorgias-key" {
		t.Fatalf("split: %+v %+v", bare, sec)
	}
	if got := bare.WithSecrets(sec); got.Trustpilot.APIKey != "tp-key" {
		t.Fatalf("rejoin: %+v", got)
	}
	m := c.Masked()
	if m.Helpdesk.APIKey != "********" || m.Trustpilot.APISecret != "********" || m.Trustpilot.RefreshToken != "" {
		t.Fatalf("masked: %+v", m)
	}
}

func TestValidationNamesEveryBadField(t *testing.T) {
	t.Parallel()
	doc := `{"id":"Bad ID","helpdesk":{"type":"zendesk","url":"http://acme.gorgias.com","email":"nope"},
	"trustpilot":{"business_unit_id":"5f0c00000000000000000001","business_user_id":"5f0c00000000000000000001"},
	"review_kinds":["service","service","video"],"min_stars":9,"tags":["ok"," spaced"],
	"anonymous_email":"Reviews <r@acme.com>","reply":{"service":"all","product":"first"}}`
	_, err := connection.Parse([]byte(doc))
	var ve *connection.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a ValidationError, got %v", err)
	}
	want := []string{"anonymous_email", "helpdesk.api_key", "helpdesk.email", "helpdesk.type", "helpdesk.url", "id", "min_stars",
		"reply.service", "review_kinds[1]", "review_kinds[2]", "tags[1]", "trustpilot.api_key", "trustpilot.api_secret", "trustpilot.business_user_id"}
	var got []string
	for _, f := range ve.Fields {
		got = append(got, f.Field)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("fields\n got %v\nwant %v", got, want)
	}
}

func TestHelpdeskURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://acme.gorgias.com", true},
		{"http://127.0.0.1:8080", true},
		{"http://localhost:9", true},
		{"http://[::1]:9", true},
		{"http://acme.gorgias.com", false},
		{"ftp://acme.gorgias.com", false},
		{"https://acme.gorgias.com/api", false},
		{"https://user:pw@acme.gorgias.com", false},
		{"acme.gorgias.com", false},
		{"", false},
	}
	for _, tc := range tests {
		if err := connection.CheckHelpdeskURL(tc.url); (err == nil) != tc.ok {
			t.Errorf("%q: err %v, want ok=%v", tc.url, err, tc.ok)
		}
	}
}

func TestUnknownFieldRejected(t *testing.T) {
	t.Parallel()
	b, _ := os.ReadFile("testdata/acme-uk.json")
	doc := strings.Replace(string(b), `"min_stars"`, `"min_star": 2, "min_stars"`, 1)
	if _, err := connection.Parse([]byte(doc)); err == nil || !strings.Contains(err.Error(), "min_star") {
		t.Fatalf("typo not reported: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	b, _ := os.ReadFile("testdata/acme-uk.json")
	f.Add(b)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":"x","review_kinds":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := connection.Parse(b)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("parsed document does not validate: %v", err)
		}
		if strings.Contains(c.Masked().Trustpilot.APISecret, c.Trustpilot.APISecret) && c.Trustpilot.APISecret != "********" {
			t.Fatal("mask leaks the secret")
		}
	})
}

// The triage and guard settings: defaults when left out, the operator's choices, and every bad
// value named.
func TestTriageSettings(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/acme-uk.json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := connection.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	for stars, want := range map[int]string{1: "high", 2: "high", 3: "normal", 4: "low", 5: "low"} {
		if got := c.Triage.PriorityFor(stars); got != want {
			t.Errorf("default priority for %d★: %q, want %q", stars, got, want)
		}
	}
	if !c.Triage.LanguageOn() || !c.Triage.SKUTagsOn() || c.Triage.Closes(5) || !c.Reply.GuardOn() {
		t.Fatalf("defaults: %+v %+v", c.Triage, c.Reply)
	}

	set := strings.Replace(string(b), `"reply"`, `"triage": {"priority": {"3": "high", "5": "none"}, "language": "off", "sku_tags": "off",
		"ticket_fields": {"stars": 101, "sku": 104}, "close_stars": [4, 5]}, "reply"`, 1)
	set = strings.Replace(set, `"product": "first"`, `"product": "first", "guard": "off"`, 1)
	c, err = connection.Parse([]byte(set))
	if err != nil {
		t.Fatalf("%v\n%s", err, set)
	}
	if c.Triage.PriorityFor(3) != "high" || c.Triage.PriorityFor(5) != "" || c.Triage.PriorityFor(1) != "high" ||
		c.Triage.LanguageOn() || c.Triage.SKUTagsOn() || !c.Triage.Closes(4) || c.Triage.Closes(3) ||
		c.Triage.Fields.Stars != 101 || c.Triage.Fields.SKU != 104 || c.Reply.GuardOn() {
		t.Fatalf("settings: %+v %+v", c.Triage, c.Reply)
	}
	bare, _ := c.SplitSecrets()
	bare.Triage.Priority["3"], bare.Triage.CloseStars[0] = "low", 1
	if c.Triage.PriorityFor(3) != "high" || !c.Triage.Closes(4) {
		t.Fatal("SplitSecrets shares the triage's map or slice with the original")
	}

	bad := strings.Replace(string(b), `"reply"`, `"triage": {"priority": {"6": "high", "2": "urgent"}, "language": "yes",
		"sku_tags": "no", "ticket_fields": {"kind": -1}, "close_stars": [0]}, "reply"`, 1)
	bad = strings.Replace(bad, `"product": "first"`, `"product": "first", "guard": "maybe"`, 1)
	_, err = connection.Parse([]byte(bad))
	var ve *connection.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a ValidationError, got %v", err)
	}
	var got []string
	for _, f := range ve.Fields {
		got = append(got, f.Field)
	}
	want := []string{"reply.guard", "triage.close_stars[0]", "triage.language", "triage.priority", "triage.priority.2", "triage.sku_tags", "triage.ticket_fields.kind"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("fields\n got %v\nwant %v", got, want)
	}
}
