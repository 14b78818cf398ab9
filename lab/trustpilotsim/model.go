package trustpilotsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// BusinessUnit is a Trustpilot business unit with the application credentials that may read it
// (each unit has its own in the simulator, as separate customers would) and its business users.
type BusinessUnit struct {
	ID              string         `json:"id"`
	Name            string         `json:"name"` // identifyingName, e.g. "example.com"
	DisplayName     string         `json:"displayName"`
	APIKey          string         `json:"apiKey"`
	APISecret       string         `json:"apiSecret"`
	BusinessUsers   []BusinessUser `json:"businessUsers"`
	RefreshTokens   []string       `json:"refreshTokens,omitempty"` // live refresh tokens, as after a login flow
	RequireAPIKey   bool           `json:"requireApiKey,omitempty"` // refuse private calls without the apikey header
	DisableReplying bool           `json:"disableReplying,omitempty"`
	// WebhookURL subscribes a URL to the unit's service-review events (Sim.SetWebhookURL).
	WebhookURL string `json:"webhookUrl,omitempty"`
	// Switches select the unit's variant of behaviours the reference leaves open; in JSON their
	// fields sit at the top level of the unit. Sim.SetSwitches and
	// PUT /_sim/business-units/{id}/switches change them while the simulator runs.
	Switches
}

// Switches are per-business-unit behaviour variants. The zero value is the default behaviour.
type Switches struct {
	// ReplyText is how a service reply's text and a conversation comment's content are stored,
	// and so returned on re-read, compared with what was posted.
	ReplyText TextMode `json:"replyText,omitempty"`
	// ReplyVisibilityDelay hides a committed service reply or comment from reads (review,
	// review list and its responded filter, conversation) for this long after the post, on the
	// simulator's clock. A second reply POST meanwhile is still refused with 409: the review has
	// a reply, it just does not show yet.
	ReplyVisibilityDelay Duration `json:"replyVisibilityDelay,omitempty"`
	// PerPageCap silently caps perPage on both review lists (reference §4 leaves the product
	// list's maximum open): a client asking for 100 gets this many, with no error.
	PerPageCap int `json:"perPageCap,omitempty"`
	// Links is how list pages spell their links: "" absolute URLs on the API host, "relative"
	// paths from the root, "list-relative" paths relative to the list ("reviews?page=2"),
	// "trailing-slash" absolute with a trailing slash and upper-case letters in the path,
	// "none" no links array at all (product list; the service list keeps absolute links).
	Links LinkStyle `json:"links,omitempty"`
	// Deletions is how the Deletions API spells its answer (reference §8 gives none): ""
	// {"reviews":[{"id","deletedAt"}],"nextToken"}, "ids" {"deletions":[ids],"nextPageToken"}.
	Deletions DeletionsShape `json:"deletions,omitempty"`
}

// LinkStyle is the value of Switches.Links.
type LinkStyle string

// The LinkStyle values.
const (
	LinksAbsolute      LinkStyle = ""
	LinksRelative      LinkStyle = "relative"
	LinksListRelative  LinkStyle = "list-relative"
	LinksTrailingSlash LinkStyle = "trailing-slash"
	LinksNone          LinkStyle = "none"
)

// TextMode is the value of Switches.ReplyText.
type TextMode string

// The TextMode values.
const (
	TextVerbatim TextMode = ""      // stored as posted (default)
	TextLines    TextMode = "lines" // line breaks become \n, each line's whitespace runs one space, at most one blank line, trimmed
	TextFlatten  TextMode = "flat"  // every whitespace run, line breaks included, becomes one space, trimmed
)

func (sw Switches) check() error {
	switch sw.ReplyText {
	case TextVerbatim, TextLines, TextFlatten:
	default:
		return fmt.Errorf("replyText %q is not one of \"\", %q, %q", sw.ReplyText, TextLines, TextFlatten)
	}
	switch sw.Links {
	case LinksAbsolute, LinksRelative, LinksListRelative, LinksTrailingSlash, LinksNone:
	default:
		return fmt.Errorf("links %q is not one of \"\", %q, %q, %q, %q", sw.Links, LinksRelative, LinksListRelative, LinksTrailingSlash, LinksNone)
	}
	if sw.Deletions != DeletionsObjects && sw.Deletions != DeletionsIDs {
		return fmt.Errorf("deletions %q is not one of \"\", %q", sw.Deletions, DeletionsIDs)
	}
	if sw.PerPageCap < 0 {
		return errors.New("perPageCap must not be negative")
	}
	if sw.ReplyVisibilityDelay < 0 {
		return errors.New("replyVisibilityDelay must not be negative")
	}
	return nil
}

// normalize stores text the way mode says.
func (m TextMode) normalize(text string) string {
	switch m {
	case TextLines:
		text = strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(text)
		lines := strings.Split(text, "\n")
		for i, l := range lines {
			lines[i] = strings.Join(strings.Fields(l), " ")
		}
		text = strings.Join(lines, "\n")
		for strings.Contains(text, "\n\n\n") {
			text = strings.ReplaceAll(text, "\n\n\n", "\n\n")
		}
		return strings.TrimSpace(text)
	case TextFlatten:
		return strings.Join(strings.Fields(text), " ")
	}
	return text
}

// BusinessUser is a person of the business unit; replies and comments are authored by one.
type BusinessUser struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Email    string `json:"email"`    // username for the password grant
	Password string `json:"password"` // empty: the password grant is refused
}

// Link is a HATEOAS link as Trustpilot sends them.
type Link struct {
	Href   string `json:"href"`
	Method string `json:"method"`
	Rel    string `json:"rel"`
}

// Consumer is a service review's author.
type Consumer struct {
	ID              string  `json:"id"`
	DisplayName     *string `json:"displayName"`
	DisplayLocation *string `json:"displayLocation"`
	NumberOfReviews int     `json:"numberOfReviews"`
	Links           []Link  `json:"links"`
}

// BusinessUnitRef is the business unit as embedded in a review.
type BusinessUnitRef struct {
	ID              string `json:"id"`
	IdentifyingName string `json:"identifyingName"`
	DisplayName     string `json:"displayName"`
}

// Location is a review's location when the business has locations.
type Location struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	URLFormattedName string `json:"urlFormattedName"`
	ExternalID       string `json:"externalId"`
}

// CompanyReply is the one reply a service review can have.
type CompanyReply struct {
	Text                   string  `json:"text"`
	AuthorBusinessUserID   string  `json:"authorBusinessUserId"`
	AuthorBusinessUserName string  `json:"authorBusinessUserName"`
	CreatedAt              string  `json:"createdAt"`
	UpdatedAt              *string `json:"updatedAt"`
}

// Tag is a review tag.
type Tag struct {
	Group string `json:"group"`
	Value string `json:"value"`
}

// Invitation says which business unit invited the reviewer.
type Invitation struct {
	BusinessUnitID string `json:"businessUnitId"`
}

// ServiceReview is a private service review with Trustpilot's field names (reference §2.2).
// Timestamps are strings so fixtures can hold every format Trustpilot is seen to send.
type ServiceReview struct {
	ID                              string          `json:"id"`
	Consumer                        Consumer        `json:"consumer"`
	BusinessUnit                    BusinessUnitRef `json:"businessUnit"`
	Stars                           int             `json:"stars"`
	Title                           *string         `json:"title"`
	Text                            *string         `json:"text"`
	Language                        string          `json:"language"`
	Location                        *Location       `json:"location"`
	CreatedAt                       string          `json:"createdAt"`
	UpdatedAt                       *string         `json:"updatedAt"`
	ExperiencedAt                   *string         `json:"experiencedAt"`
	ReferralEmail                   *string         `json:"referralEmail,omitempty"` // absent on organic reviews
	ReferenceID                     *string         `json:"referenceId"`
	Source                          string          `json:"source"`
	Status                          *string         `json:"status"`
	IsVerified                      bool            `json:"isVerified"`
	ReviewVerificationLevel         string          `json:"reviewVerificationLevel"`
	NumberOfLikes                   int             `json:"numberOfLikes"`
	CompanyReply                    *CompanyReply   `json:"companyReply"`
	Tags                            []Tag           `json:"tags"`
	FindReviewer                    json.RawMessage `json:"findReviewer"`
	ReportData                      json.RawMessage `json:"reportData"`
	ComplianceLabels                []string        `json:"complianceLabels"`
	CountsTowardsTrustScore         bool            `json:"countsTowardsTrustScore"`
	CountsTowardsLocationTrustScore *bool           `json:"countsTowardsLocationTrustScore"`
	Invitation                      *Invitation     `json:"invitation"`
	BusinessUnitHistory             []any           `json:"businessUnitHistory"`
	Links                           []Link          `json:"links"`
}

// ProductConsumer is a product review's author; product reviews come from invitations and so
// carry an email.
type ProductConsumer struct {
	ID    string  `json:"id"`
	Name  *string `json:"name"`
	Email *string `json:"email"`
}

// Product is the reviewed product.
type Product struct {
	ID            string   `json:"id"`
	SKU           string   `json:"sku"`
	Name          string   `json:"name"`
	ProductURL    string   `json:"productUrl"`
	ProductImages []string `json:"productImages"`
	GTIN          *string  `json:"gtin"`
	MPN           *string  `json:"mpn"`
	Brand         *string  `json:"brand"`
}

// AttributeRating is a product review's rating of one attribute.
type AttributeRating struct {
	AttributeID      string `json:"attributeId"`
	AttributeName    string `json:"attributeName"`
	AttributeType    string `json:"attributeType"`
	AttributeOptions any    `json:"attributeOptions"`
	Rating           int    `json:"rating"`
}

// ProductReview is a private product review with Trustpilot's field names (reference §4.2).
type ProductReview struct {
	ID                   string            `json:"id"`
	BusinessUnitID       string            `json:"businessUnitId"`
	CreatedAt            string            `json:"createdAt"`
	UpdatedAt            *string           `json:"updatedAt"`
	Stars                int               `json:"stars"`
	Content              string            `json:"content"`
	Language             string            `json:"language"`
	Locale               string            `json:"locale"`
	State                string            `json:"state"`
	HasModerationHistory bool              `json:"hasModerationHistory"`
	Consumer             ProductConsumer   `json:"consumer"`
	ReferenceID          *string           `json:"referenceId"`
	RedirectURI          *string           `json:"redirectUri"`
	Product              Product           `json:"product"`
	ConversationID       *string           `json:"conversationId"`
	AttributeRatings     []AttributeRating `json:"attributeRatings"`
	Attachments          []any             `json:"attachments"`
}

// Author is who wrote a conversation comment.
type Author struct {
	ID   string `json:"id"`
	Type string `json:"type"` // "businessUser" for the business
}

// Comment is one message in a product-review conversation.
type Comment struct {
	ID            string `json:"id"`
	CreatedAt     string `json:"createdAt"`
	Author        Author `json:"author"`
	Content       string `json:"content"`
	IntegrationID string `json:"integrationId,omitempty"`

	visibleAt time.Time // reads show the comment from then on (Switches.ReplyVisibilityDelay)
}

// Conversation is the thread under a product review.
type Conversation struct {
	ID             string    `json:"id"`
	BusinessUnitID string    `json:"businessUnitId"`
	ConsumerID     string    `json:"consumerId"`
	Source         string    `json:"source"`
	SourceID       string    `json:"sourceId"`
	State          string    `json:"state"`
	Comments       []Comment `json:"comments"`
}

// Reply is a service-review reply as the simulator received it, for tests to inspect.
type Reply struct {
	ReviewID             string    `json:"reviewId"`
	AuthorBusinessUserID string    `json:"authorBusinessUserId"`
	Message              string    `json:"message"`
	At                   time.Time `json:"at"`
}

// Fixture is the simulator's seed state, as stored in testdata/*.json.
type Fixture struct {
	BusinessUnits  []BusinessUnit  `json:"businessUnits"`
	ServiceReviews []ServiceReview `json:"serviceReviews"`
	ProductReviews []ProductReview `json:"productReviews"`
}

// ReadFixture reads a fixture file; unknown fields are an error so a typo in a fixture is not
// silently a missing field.
func ReadFixture(path string) (Fixture, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Fixture{}, err
	}
	return ParseFixture(b)
}

// ParseFixture decodes fixture JSON.
func ParseFixture(b []byte) (Fixture, error) {
	var f Fixture
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return Fixture{}, fmt.Errorf("fixture: %w", err)
	}
	return f, nil
}

// Str returns a pointer to s, for the nullable fields.
func Str(s string) *string { return &s }

// withDefaults fills what Trustpilot always sends as [] rather than null.
func (r ServiceReview) withDefaults() ServiceReview {
	if r.Consumer.Links == nil {
		r.Consumer.Links = []Link{}
	}
	if r.Tags == nil {
		r.Tags = []Tag{}
	}
	if r.ComplianceLabels == nil {
		r.ComplianceLabels = []string{}
	}
	if r.BusinessUnitHistory == nil {
		r.BusinessUnitHistory = []any{}
	}
	if r.Links == nil {
		r.Links = []Link{}
	}
	if r.Source == "" {
		r.Source = "Organic"
	}
	return r
}

func (r ProductReview) withDefaults() ProductReview {
	if r.State == "" {
		r.State = "published"
	}
	if r.AttributeRatings == nil {
		r.AttributeRatings = []AttributeRating{}
	}
	if r.Attachments == nil {
		r.Attachments = []any{}
	}
	if r.Product.ProductImages == nil {
		r.Product.ProductImages = []string{}
	}
	return r
}
