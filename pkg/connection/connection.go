// Package connection is the contract of a connection document (DESIGN §4): one Trustpilot
// business unit linked to one helpdesk account, its settings and credentials, and the
// validation that names every bad field.
package connection

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/loopback"
	"github.com/pilotdesk/pilotdesk/pkg/review"
)

// Connection is the document `pilotdesk connection put -f FILE` reads.
type Connection struct {
	ID             string        `json:"id"`
	Helpdesk       Helpdesk      `json:"helpdesk"`
	Trustpilot     Trustpilot    `json:"trustpilot"`
	ReviewKinds    []review.Kind `json:"review_kinds"`
	MinStars       int           `json:"min_stars"`
	Tags           []string      `json:"tags,omitempty"`
	AnonymousEmail string        `json:"anonymous_email"`
	Reply          ReplyPolicy   `json:"reply"`
	Triage         Triage        `json:"triage,omitzero"`
	Disabled       bool          `json:"disabled,omitempty"`
}

// Triage is what a review's ticket carries from its creation so that agents' queues, views and
// rules can sort it (Gorgias computes no intent or sentiment for API-created messages): all
// of it goes into the one create call.
type Triage struct {
	// Priority maps a star rating ("1" … "5") to the ticket's priority (critical, high,
	// normal, low) or "none" (Gorgias' default); ratings left out keep DefaultPriority.
	Priority map[string]string `json:"priority,omitempty"`
	// Language "off" leaves the ticket's language unset; by default it is the review's.
	Language string `json:"language,omitempty"`
	// SKUTags "off" drops the sku-<sku> tag of product reviews (on by default).
	SKUTags string `json:"sku_tags,omitempty"`
	// Fields are Gorgias ticket fields (custom fields, by id) to fill: stars, review kind,
	// business unit id and product SKU. 0 leaves a field out.
	Fields TicketFields `json:"ticket_fields,omitzero"`
	// CloseStars: reviews with these ratings are created already closed (e.g. [5] or [4, 5]),
	// so open tickets are the reviews that need an answer. None by default.
	CloseStars []int `json:"close_stars,omitempty"`
}

// TicketFields are Gorgias ticket field ids (GET /api/custom-fields?object_type=Ticket).
type TicketFields struct {
	Stars        int64 `json:"stars,omitempty"`
	Kind         int64 `json:"kind,omitempty"`
	BusinessUnit int64 `json:"business_unit,omitempty"`
	SKU          int64 `json:"sku,omitempty"`
}

// DefaultPriority is the ticket priority by stars when the connection names none: the angry
// reviews first.
var DefaultPriority = map[int]string{1: "high", 2: "high", 3: "normal", 4: "low", 5: "low"}

// Ticket priorities Gorgias takes, and "none" for its default.
var priorities = []string{"critical", "high", "normal", "low", PriorityNone}

// PriorityNone leaves a ticket's priority to the helpdesk's default.
const PriorityNone = "none"

// PriorityFor is the ticket priority for a review of that many stars ("" for the default).
func (t Triage) PriorityFor(stars int) string {
	p, ok := t.Priority[fmt.Sprint(stars)]
	if !ok {
		p = DefaultPriority[stars]
	}
	if p == PriorityNone {
		return ""
	}
	return p
}

// LanguageOn reports whether tickets take the review's language.
func (t Triage) LanguageOn() bool { return t.Language != Off }

// SKUTagsOn reports whether product reviews' tickets get a sku-<sku> tag.
func (t Triage) SKUTagsOn() bool { return t.SKUTags != Off }

// Closes reports whether a review of that many stars is created closed.
func (t Triage) Closes(stars int) bool { return slices.Contains(t.CloseStars, stars) }

// On and Off are the values of the connection's switches.
const (
	On  = "on"
	Off = "off"
)

// Helpdesk is the helpdesk account the connection writes tickets to.
type Helpdesk struct {
	Type   string `json:"type"`
	URL    string `json:"url"`
	Email  string `json:"email"`
	APIKey string `json:"api_key,omitempty"`
	// CustomerData also writes each reviewer's reviews into the helpdesk customer's data (the
	// "Customer data" widget Gorgias labels deprecated): two more helpdesk calls per review
	// with an email. Off by default: the sidebar integration serves the reviews from the table.
	CustomerData bool `json:"customer_data,omitempty"`
}

// Trustpilot is the business unit the connection reads reviews from.
type Trustpilot struct {
	BusinessUnitID string `json:"business_unit_id"`
	BusinessUserID string `json:"business_user_id"`
	APIKey         string `json:"api_key,omitempty"`
	APISecret      string `json:"api_secret,omitempty"`
	RefreshToken   string `json:"refresh_token,omitempty"` // connections made through the login flow
	// WebhookSecret is the unguessable part of the connection's Trustpilot webhook URL
	// (Trustpilot does not sign its webhooks); generated when the connection is saved without
	// one, kept in the secret store. WebhookHash is its SHA-256, all the table keeps: the
	// webhook compares against it without reading the secret store.
	WebhookSecret string `json:"webhook_secret,omitempty"`
	WebhookHash   string `json:"webhook_hash,omitempty"`
	// CallsPerYear is the API module tier's yearly allowance (reference §1.1); nil means the
	// tier-1 default, 0 unlimited. The scheduler paces polls from it.
	CallsPerYear *int64 `json:"calls_per_year,omitempty"`
	// LedgerKey names the API key in the call ledger (a hash, set when the connection is
	// saved): connections sharing a key share its allowance.
	LedgerKey string `json:"ledger_key,omitempty"`
}

// DefaultCallsPerYear is Trustpilot's tier-1 allowance (the one Enterprise plans include).
const DefaultCallsPerYear = 200_000

// Allowance is the connection's yearly Trustpilot allowance (0: unlimited).
func (c Connection) Allowance() int64 {
	if c.Trustpilot.CallsPerYear == nil {
		return DefaultCallsPerYear
	}
	return *c.Trustpilot.CallsPerYear
}

// ReplyPolicy says which agent reply goes to Trustpilot, per review kind.
type ReplyPolicy struct {
	Service string `json:"service"`
	Product string `json:"product"`
	// Guard "off" posts replies without the public-reply guard (on by default: a reply with
	// personal data or a request to change the review is held with a note to the agent).
	Guard string `json:"guard,omitempty"`
}

// GuardOn reports whether agent replies pass the public-reply guard before they are posted.
func (p ReplyPolicy) GuardOn() bool { return p.Guard != Off }

// Replies reports whether any agent reply of the connection goes to Trustpilot.
func (c Connection) Replies() bool {
	return (c.Kinds(review.Service) && c.Reply.Service != ReplyOff) || (c.Kinds(review.Product) && c.Reply.Product != ReplyOff)
}

// Reply policies.
const (
	ReplyFirst = "first" // the first public agent reply is posted
	ReplyOff   = "off"   // nothing is posted
)

// Secrets is the part of a connection kept in the secret store, never in the table.
type Secrets struct {
	HelpdeskAPIKey       string `json:"helpdesk_api_key"`
	TrustpilotAPIKey     string `json:"trustpilot_api_key"`
	TrustpilotAPISecret  string `json:"trustpilot_api_secret"`
	TrustpilotRefreshTok string `json:"trustpilot_refresh_token,omitempty"`
	TrustpilotWebhook    string `json:"trustpilot_webhook_secret,omitempty"`
}

// FieldError names one bad field.
type FieldError struct {
	Field   string
	Message string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// ValidationError lists every bad field of a document.
type ValidationError struct{ Fields []FieldError }

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Error()
	}
	return "invalid connection: " + strings.Join(parts, "; ")
}

var (
	idPattern  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	hexID      = regexp.MustCompile(`^[a-f0-9]{24}$`)
	tagPattern = regexp.MustCompile(`^[^,\x00-\x1f]{1,100}$`)
)

// Parse decodes a connection document, applies defaults and validates it. Unknown fields are
// an error here: a typo in an operator's file must not be silently ignored.
func Parse(b []byte) (Connection, error) {
	var c Connection
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Connection{}, fmt.Errorf("invalid connection document: %w", err)
	}
	if dec.More() {
		return Connection{}, errors.New("invalid connection document: trailing data after the JSON object")
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		return Connection{}, err
	}
	return c, nil
}

// ApplyDefaults fills what the document may leave out.
func (c *Connection) ApplyDefaults() {
	if c.Helpdesk.Type == "" {
		c.Helpdesk.Type = "gorgias"
	}
	if len(c.ReviewKinds) == 0 {
		c.ReviewKinds = []review.Kind{review.Service, review.Product}
	}
	if c.MinStars == 0 {
		c.MinStars = 1
	}
	if c.Reply.Service == "" {
		c.Reply.Service = ReplyFirst
	}
	if c.Reply.Product == "" {
		c.Reply.Product = ReplyFirst
	}
	c.Helpdesk.URL = strings.TrimRight(strings.TrimSpace(c.Helpdesk.URL), "/")
}

// Validate checks every field and reports all problems at once.
func (c *Connection) Validate() error { return c.validate(true) }

// ValidateStored is Validate for a connection read back from the table, whose secrets live
// in the secret store.
func (c *Connection) ValidateStored() error { return c.validate(false) }

func (c *Connection) validate(withSecrets bool) error {
	var fe []FieldError
	bad := func(field, msg string, args ...any) { fe = append(fe, FieldError{field, fmt.Sprintf(msg, args...)}) }

	if !idPattern.MatchString(c.ID) {
		bad("id", "must be 1-63 lowercase letters, digits or '-', starting with a letter or digit")
	}
	if c.Helpdesk.Type != "gorgias" {
		bad("helpdesk.type", "unsupported helpdesk %q (supported: gorgias)", c.Helpdesk.Type)
	}
	if err := CheckHelpdeskURL(c.Helpdesk.URL); err != nil {
		bad("helpdesk.url", "%v", err)
	}
	if _, err := mail.ParseAddress(c.Helpdesk.Email); err != nil || !strings.Contains(c.Helpdesk.Email, "@") {
		bad("helpdesk.email", "must be the email of the helpdesk user that owns the API key")
	}
	if withSecrets && strings.TrimSpace(c.Helpdesk.APIKey) == "" {
		bad("helpdesk.api_key", "required")
	}
	if !hexID.MatchString(c.Trustpilot.BusinessUnitID) {
		bad("trustpilot.business_unit_id", "must be a 24-character lowercase hex Trustpilot id")
	}
	if !hexID.MatchString(c.Trustpilot.BusinessUserID) {
		bad("trustpilot.business_user_id", "must be a 24-character lowercase hex Trustpilot id (the business user, not the business unit)")
	} else if c.Trustpilot.BusinessUserID == c.Trustpilot.BusinessUnitID {
		bad("trustpilot.business_user_id", "is the business unit id; Trustpilot answers 403 to that: use the business user's id")
	}
	if withSecrets && strings.TrimSpace(c.Trustpilot.APIKey) == "" {
		bad("trustpilot.api_key", "required")
	}
	if n := c.Trustpilot.CallsPerYear; n != nil && *n < 0 {
		bad("trustpilot.calls_per_year", "must be the tier's yearly allowance (0 for unlimited)")
	}
	if w := c.Trustpilot.WebhookSecret; w != "" && (len(w) < 32 || strings.ContainsAny(w, " &?#/%+")) {
		bad("trustpilot.webhook_secret", "must be at least 32 characters without spaces or URL punctuation (leave it out to have one made)")
	}
	if withSecrets && strings.TrimSpace(c.Trustpilot.APISecret) == "" {
		bad("trustpilot.api_secret", "required")
	}
	seen := map[review.Kind]bool{}
	for i, k := range c.ReviewKinds {
		if !k.Valid() {
			bad(fmt.Sprintf("review_kinds[%d]", i), "unknown kind %q (want service or product)", k)
		} else if seen[k] {
			bad(fmt.Sprintf("review_kinds[%d]", i), "duplicate kind %q", k)
		}
		seen[k] = true
	}
	if c.MinStars < 1 || c.MinStars > 5 {
		bad("min_stars", "must be between 1 and 5")
	}
	for i, t := range c.Tags {
		if !tagPattern.MatchString(t) || strings.TrimSpace(t) != t {
			bad(fmt.Sprintf("tags[%d]", i), "must be 1-100 characters without commas, control characters or surrounding spaces")
		}
	}
	if a, err := mail.ParseAddress(c.AnonymousEmail); err != nil || a.Address != c.AnonymousEmail {
		bad("anonymous_email", "must be a plain email address on a domain the shop owns (the customer for reviews without an email)")
	}
	for field, p := range map[string]string{"reply.service": c.Reply.Service, "reply.product": c.Reply.Product} {
		if p != ReplyFirst && p != ReplyOff {
			bad(field, "must be %q or %q", ReplyFirst, ReplyOff)
		}
	}
	for field, v := range map[string]string{"reply.guard": c.Reply.Guard, "triage.language": c.Triage.Language, "triage.sku_tags": c.Triage.SKUTags} {
		if v != "" && v != On && v != Off {
			bad(field, "must be %q or %q (default %q)", On, Off, On)
		}
	}
	for stars, p := range c.Triage.Priority {
		if len(stars) != 1 || stars < "1" || stars > "5" {
			bad("triage.priority", "keys are star ratings \"1\" to \"5\", not %q", stars)
		} else if !slices.Contains(priorities, p) {
			bad("triage.priority."+stars, "must be one of %s", strings.Join(priorities, ", "))
		}
	}
	for i, n := range c.Triage.CloseStars {
		if n < 1 || n > 5 {
			bad(fmt.Sprintf("triage.close_stars[%d]", i), "must be a star rating from 1 to 5")
		}
	}
	for field, id := range map[string]int64{"stars": c.Triage.Fields.Stars, "kind": c.Triage.Fields.Kind, "business_unit": c.Triage.Fields.BusinessUnit, "sku": c.Triage.Fields.SKU} {
		if id < 0 {
			bad("triage.ticket_fields."+field, "must be a Gorgias ticket field id (Settings → Ticket fields), or left out")
		}
	}
	if len(fe) == 0 {
		return nil
	}
	slices.SortFunc(fe, func(a, b FieldError) int { return strings.Compare(a.Field, b.Field) })
	return &ValidationError{Fields: fe}
}

// CheckHelpdeskURL accepts https URLs, and http only for loopback hosts (tests, local run).
func CheckHelpdeskURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("must be an absolute URL like https://acme.gorgias.com")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return errors.New("must be just the account's base URL, like https://acme.gorgias.com")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if loopback.Host(u.Hostname()) {
			return nil
		}
		return errors.New("must use https (http is allowed only for loopback hosts)")
	}
	return errors.New("must use https")
}

// Kinds reports whether the connection syncs kind.
func (c Connection) Kinds(kind review.Kind) bool { return slices.Contains(c.ReviewKinds, kind) }

// HelpdeskAccountKey identifies the helpdesk account: connections sharing it share one rate
// limit and one sync lease.
func (c Connection) HelpdeskAccountKey() string {
	u, err := url.Parse(c.Helpdesk.URL)
	if err != nil {
		return strings.ToLower(c.Helpdesk.URL)
	}
	return strings.ToLower(u.Host)
}

// SplitSecrets returns the connection without its secrets, and the secrets.
func (c Connection) SplitSecrets() (Connection, Secrets) {
	s := Secrets{
		HelpdeskAPIKey:       c.Helpdesk.APIKey,
		TrustpilotAPIKey:     c.Trustpilot.APIKey,
		TrustpilotAPISecret:  c.Trustpilot.APISecret,
		TrustpilotRefreshTok: c.Trustpilot.RefreshToken,
		TrustpilotWebhook:    c.Trustpilot.WebhookSecret,
	}
	if c.Trustpilot.WebhookSecret != "" {
		c.Trustpilot.WebhookHash = WebhookHash(c.Trustpilot.WebhookSecret)
	}
	c.Helpdesk.APIKey, c.Trustpilot.APIKey, c.Trustpilot.APISecret, c.Trustpilot.RefreshToken = "", "", "", ""
	c.Trustpilot.WebhookSecret = ""
	c.Tags = slices.Clone(c.Tags)
	c.ReviewKinds = slices.Clone(c.ReviewKinds)
	c.Triage.Priority = maps.Clone(c.Triage.Priority)
	c.Triage.CloseStars = slices.Clone(c.Triage.CloseStars)
	return c, s
}

// WithSecrets returns the connection with its secrets filled in.
func (c Connection) WithSecrets(s Secrets) Connection {
	c.Helpdesk.APIKey = s.HelpdeskAPIKey
	c.Trustpilot.APIKey = s.TrustpilotAPIKey
	c.Trustpilot.APISecret = s.TrustpilotAPISecret
	c.Trustpilot.RefreshToken = s.TrustpilotRefreshTok
	c.Trustpilot.WebhookSecret = s.TrustpilotWebhook
	return c
}

// WebhookHash is what the table keeps of a webhook secret.
func WebhookHash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// WebhookSecretOK reports, in constant time, whether secret is the one whose hash the stored
// connection keeps. A connection without one accepts nothing.
func (c Connection) WebhookSecretOK(secret string) bool {
	if c.Trustpilot.WebhookHash == "" || secret == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(WebhookHash(secret)), []byte(c.Trustpilot.WebhookHash)) == 1
}

// NewWebhookSecret returns a fresh random webhook secret (256 bits, hex).
func NewWebhookSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// Masked returns the connection with every secret replaced by a mask that only says whether
// it is set, for display.
func (c Connection) Masked() Connection {
	m := func(s string) string {
		if s == "" {
			return ""
		}
		return "********"
	}
	c.Helpdesk.APIKey = m(c.Helpdesk.APIKey)
	c.Trustpilot.APIKey = m(c.Trustpilot.APIKey)
	c.Trustpilot.APISecret = m(c.Trustpilot.APISecret)
	c.Trustpilot.RefreshToken = m(c.Trustpilot.RefreshToken)
	c.Trustpilot.WebhookSecret = m(c.Trustpilot.WebhookSecret)
	return c
}

// Record is a stored connection (without secrets) and its health.
type Record struct {
	Connection   Connection
	NeedsReauth  bool
	ReauthReason string
	UpdatedAt    time.Time
	// Deleted marks a connection removed without --purge: it no longer syncs, but replies on
	// its existing tickets still reach Trustpilot.
	Deleted bool
}
