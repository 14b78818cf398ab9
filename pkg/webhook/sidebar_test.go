package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/review"
	"github.com/pilotdesk/pilotdesk/pkg/reviewer"
	"github.com/pilotdesk/pilotdesk/pkg/sidebar"
	"github.com/pilotdesk/pilotdesk/pkg/store/memstore"
	"github.com/pilotdesk/pilotdesk/pkg/webhook"
)

func sidebarReq(method, secret string, q map[string]string) events.APIGatewayV2HTTPRequest {
	r := req(method, secret, "", false)
	r.RawPath, r.QueryStringParameters = webhook.SidebarPath, q
	return r
}

func rawQuery(r events.APIGatewayV2HTTPRequest, raw string) events.APIGatewayV2HTTPRequest {
	r.RawQueryString = raw
	return r
}

func sidebarHandler(t testing.TB) *webhook.Handler {
	t.Helper()
	st := memstore.New()
	ctx := context.Background()
	rv := review.Review{ID: "5f0000000000000000000001", Kind: review.Service, Stars: 4, Title: "Nice", Text: "Good shop", CreatedAt: time.Now()}
	if _, err := st.ClaimReview(ctx, "c1", rv.ID, rv.Kind, "w", time.Minute); err != nil {
		t.Fatal(err)
	}
	who := reviewer.Key("dana@example.com")
	if err := st.ConfirmLink(ctx, link.Confirm{ConnectionID: "c1", ReviewID: rv.ID, Owner: "w", Account: "acme", TicketID: 12, Reviewer: who}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutReviewerEntry(ctx, "acme", who, rv.ID, reviewer.EntryOf("c1", rv, 12).Marshal()); err != nil {
		t.Fatal(err)
	}
	return &webhook.Handler{SecretID: "arn", Secrets: fakeSecrets{value: "s3cret"}, Sidebar: &sidebar.Service{Store: st},
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
}

// The sidebar route: the reviewer's reviews for the right secret; 401 without it; 405 for
// another method; 400 with a message for what the caller got wrong.
func TestSidebarRoute(t *testing.T) {
	t.Parallel()
	h := sidebarHandler(t)
	ok := map[string]string{"account": "acme", "email": "dana@example.com", "ticket": "12"}
	for _, c := range []struct {
		name   string
		req    events.APIGatewayV2HTTPRequest
		status int
	}{
		{"ok", sidebarReq("GET", "s3cret", ok), 200},
		{"no secret", sidebarReq("GET", "", ok), 401},
		{"wrong secret", sidebarReq("GET", "nope", ok), 401},
		{"post", sidebarReq("POST", "s3cret", ok), 405},
		{"no email parameter", sidebarReq("GET", "s3cret", map[string]string{"account": "acme", "ticket": "12"}), 400},
		{"a customer without an email", sidebarReq("GET", "s3cret", map[string]string{"account": "acme", "email": "", "ticket": "12"}), 200},
		{"a customer without an email, left out of the parsed parameters", rawQuery(sidebarReq("GET", "s3cret", map[string]string{"account": "acme", "ticket": "12"}), "account=acme&email=&ticket=12"), 200},
		{"no email parameter in the raw query either", rawQuery(sidebarReq("GET", "s3cret", map[string]string{"account": "acme", "ticket": "12"}), "account=acme&ticket=12&emails="), 400},
		{"account too long", sidebarReq("GET", "s3cret", map[string]string{"account": strings.Repeat("a", 3000), "email": "dana@example.com"}), 400},
		{"template not rendered", sidebarReq("GET", "s3cret", map[string]string{"account": "acme", "email": "{{ticket.customer.email}}"}), 400},
		{"bad ticket", sidebarReq("GET", "s3cret", map[string]string{"account": "acme", "email": "dana@example.com", "ticket": "x"}), 400},
		{"no account", sidebarReq("GET", "s3cret", map[string]string{"email": "dana@example.com"}), 400},
	} {
		resp, err := h.Handle(context.Background(), c.req)
		if err != nil || resp.StatusCode != c.status {
			t.Fatalf("%s: %d %v (%s), want %d", c.name, resp.StatusCode, err, resp.Body, c.status)
		}
		if c.status == 200 && c.name != "ok" {
			var ans sidebar.Answer
			if err := json.Unmarshal([]byte(resp.Body), &ans); err != nil || len(ans.Reviews) != 0 || ans.Note != sidebar.NoteNoEmail {
				t.Fatalf("%s: answer %s %v", c.name, resp.Body, err)
			}
		} else if c.status == 200 {
			var ans sidebar.Answer
			if err := json.Unmarshal([]byte(resp.Body), &ans); err != nil || len(ans.Reviews) != 1 || !ans.Reviews[0].ThisTicket || ans.Reviews[0].Title != "Nice" {
				t.Fatalf("answer %s %v", resp.Body, err)
			}
		}
	}
}

// FuzzSidebarQuery: the query is whatever the helpdesk (or anyone with the secret) sends; the
// answer is never a panic and never a 5xx.
func FuzzSidebarQuery(f *testing.F) {
	f.Add("acme", "dana@example.com", "12")
	f.Add("", "{{ticket.customer.email}}", "-1")
	f.Add("acme", "a b@c", "99999999999999999999")
	h := sidebarHandler(f)
	f.Fuzz(func(t *testing.T, account, email, ticket string) {
		resp, err := h.Handle(context.Background(), sidebarReq("GET", "s3cret", map[string]string{"account": account, "email": email, "ticket": ticket}))
		if err != nil || resp.StatusCode >= 500 {
			t.Fatalf("%q %q %q: %d %v %s", account, email, ticket, resp.StatusCode, err, resp.Body)
		}
	})
}
