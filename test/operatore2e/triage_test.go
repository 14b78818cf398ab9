package operatore2e

import (
	"context"
	"encoding/csv"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/lab/gorgiassim"
	"github.com/pilotdesk/pilotdesk/lab/trustpilotsim"
)

// Triage, the public-reply guard and the report through the real bootstraps: tickets carry
// priority, language, SKU tags and ticket fields from the create call; a reply with a phone
// number is held with a note and the review's reply stays free; the agent's override posts it;
// `report` gives the figures of what was seeded.
func TestTriageGuardAndReport(t *testing.T) {
	ctx := context.Background()
	s := start(t, "pilotdesk")
	u := s.shop.unit
	fields := []gorgiassim.TicketField{{ID: 501, Type: "number"}, {ID: 502, Type: "dropdown"}, {ID: 503, Type: "text"}, {ID: 504, Type: "text"}}
	if err := s.HD.SetSwitches(s.shop.account, gorgiassim.Switches{TicketFields: fields}); err != nil {
		t.Fatal(err)
	}
	// Seeded: 4 service reviews (1★ en-GB with a reference, 3★ fr, 5★ de, 2★ nl) and 2
	// product reviews (4★ and 5★ with SKUs).
	created := time.Now().UTC().Add(-30 * time.Hour)
	fx := trustpilotsim.Generate(u.ID, 4, 2, created, created.Add(time.Hour), 5)
	svc := []struct {
		stars int
		lang  string
	}{{1, "en-GB"}, {3, "fr"}, {5, "de"}, {2, "nl"}}
	for i, want := range svc {
		rv := fx.ServiceReviews[i]
		rv.ID, rv.Stars, rv.Language, rv.CompanyReply = fmt.Sprintf("65b1000000000000000000%02d", i+1), want.stars, want.lang, nil
		rv.CreatedAt = created.Add(time.Duration(i) * time.Minute).Format("2006-01-02T15:04:05.000Z")
		ref := fmt.Sprintf("ACME-%05d", 40000+i)
		rv.ReferenceID = &ref
		if err := s.TP.PutServiceReview(rv); err != nil {
			t.Fatal(err)
		}
	}
	skus := []string{"LAMP-12/Blue", "Mug 300ml"}
	for i, sku := range skus {
		rv := fx.ProductReviews[i]
		rv.ID, rv.Stars, rv.Language = fmt.Sprintf("65b2000000000000000000%02d", i+1), 4+i, "en"
		rv.Product.SKU = sku
		rv.CreatedAt = created.Add(time.Duration(i) * time.Minute).Format("2006-01-02T15:04:05.000Z")
		if err := s.TP.PutProductReview(rv); err != nil {
			t.Fatal(err)
		}
	}
	s.putConnection(t, u.APISecret, map[string]any{"triage": map[string]any{
		"ticket_fields": map[string]any{"stars": 501, "kind": 502, "business_unit": 503, "sku": 504}, "close_stars": []int{5}}},
		[]string{"helpdesk", "install-webhook", "acme-uk", "--url", s.Outputs()["WebhookUrl"]})
	if _, err := s.Runtime.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	s.settle(t, 6)

	byExt := map[string]gorgiassim.Ticket{}
	for _, tk := range s.HD.Tickets(s.shop.account) {
		byExt[strings.TrimPrefix(tk.ExternalID, "trustpilot:")] = tk
	}
	type want struct {
		id, priority, lang, status, sku string
		stars                           int
		kind                            string
	}
	for _, w := range []want{
		{"65b100000000000000000001", "high", "en", "open", "", 1, "service"},
		{"65b100000000000000000002", "normal", "fr", "open", "", 3, "service"},
		{"65b100000000000000000003", "low", "de", "closed", "", 5, "service"},
		{"65b100000000000000000004", "high", "nl", "open", "", 2, "service"},
		{"65b200000000000000000001", "low", "en", "open", "sku-lamp-12-blue", 4, "product"},
		{"65b200000000000000000002", "low", "en", "closed", "sku-mug-300ml", 5, "product"},
	} {
		tk, ok := byExt[w.id]
		if !ok {
			t.Fatalf("no ticket for review %s", w.id)
		}
		if tk.Priority != w.priority || tk.Language != w.lang || tk.Status != w.status {
			t.Errorf("review %s: priority %q language %q status %q, want %q %q %q", w.id, tk.Priority, tk.Language, tk.Status, w.priority, w.lang, w.status)
		}
		if w.sku != "" && !slices.Contains(tk.Tags, w.sku) {
			t.Errorf("review %s: tags %v, want %s", w.id, tk.Tags, w.sku)
		}
		got := map[int64]any{}
		for _, f := range tk.CustomFields {
			got[f.ID] = f.Value
		}
		if got[501] != float64(w.stars) || got[502] != w.kind || got[503] != u.ID || (w.sku != "" && got[504] == nil) || (w.sku == "" && got[504] != nil) {
			t.Errorf("review %s: ticket fields %v", w.id, got)
		}
	}
	if st := s.HD.Stats(s.shop.account); st.ByEndpoint["POST /api/tickets"] != 6 || st.ByStatus[400] != 0 {
		t.Errorf("helpdesk calls %v, statuses %v: triage must ride on the 6 creates", st.ByEndpoint, st.ByStatus)
	}

	// A reply with a phone number on the 1★ ticket is held; the override note posts it.
	oneStar := byExt["65b100000000000000000001"]
	held := "We are so sorry. Please call our team on +44 20 7946 0958 and we will make it right. Anna, Acme Shop"
	msg, err := s.HD.AgentReply(gorgiassim.AgentReply{TicketID: oneStar.ID, BodyText: held})
	if err != nil {
		t.Fatal(err)
	}
	note := s.note(t, oneStar.ID, "Pilotdesk: this reply was NOT posted")
	if !strings.Contains(note, "+44 20 7946 0958") || !strings.Contains(note, "#post-anyway") || len(s.TP.Replies(oneStar.ExternalID[len("trustpilot:"):])) != 0 {
		t.Fatalf("held reply %d: note %q, replies %v", msg.ID, note, s.TP.Replies("65b100000000000000000001"))
	}
	if _, err := s.HD.AgentReply(gorgiassim.AgentReply{TicketID: oneStar.ID, BodyText: "The customer asked for our number. #post-anyway", Internal: true}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "the held reply posted by the override", func() bool { return len(s.TP.Replies("65b100000000000000000001")) == 1 })
	if got := s.TP.Replies("65b100000000000000000001")[0].Message; got != held {
		t.Fatalf("posted %q, want the held reply as it was", got)
	}
	// An ordinary reply on the 2★ ticket goes straight out.
	if _, err := s.HD.AgentReply(gorgiassim.AgentReply{TicketID: byExt["65b100000000000000000004"].ID,
		BodyText: "Bedankt voor uw review. We hebben de bezorging van uw pakket met onze vervoerder besproken."}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "the 2★ reply posted", func() bool { return len(s.TP.Replies("65b100000000000000000004")) == 1 })

	out, err := s.cli(t, "report", "acme-uk", "--csv")
	if err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) != 3 {
		t.Fatalf("report --csv: %v\n%s", err, out)
	}
	// service: 4 reviews (1★ 2★ 3★ 5★), 2 replied, 1 held; product: 2 reviews (4★ 5★), none replied.
	if got := strings.Join(slices.Concat(recs[1][:11], recs[1][13:]), ","); got != "acme-uk,"+u.ID+",service,4,1,1,1,0,1,2,0.5000,1" {
		t.Errorf("service row %v", recs[1])
	}
	if got := strings.Join(slices.Concat(recs[2][:11], recs[2][13:]), ","); got != "acme-uk,"+u.ID+",product,2,0,0,0,1,1,0,0.0000,0" {
		t.Errorf("product row %v", recs[2])
	}
	// The replies came about 30 h after the reviews were written.
	for _, col := range recs[1][11:13] {
		var secs int
		if _, err := fmt.Sscan(col, &secs); err != nil || secs < 29*3600 || secs > 31*3600 {
			t.Errorf("time to reply %q s, want about 30 h", col)
		}
	}
}
