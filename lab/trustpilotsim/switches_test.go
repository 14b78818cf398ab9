package trustpilotsim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

const (
	openService = "65a000000000000000000002"
	productConv = "67c000000000000000000001" // the conversation of review 66b000000000000000000002
)

// replyAndComment posts msg as the reply to openService and as a comment in productConv.
func (s *server) replyAndComment(t *testing.T, tok, msg string) (reply, comment resp) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"authorBusinessUserId": acmeUser, "message": msg})
	reply = s.do(t, "POST", "/v1/private/reviews/"+openService+"/reply", string(b), "Authorization", "Bearer "+tok, "Content-Type", "application/json")
	b, _ = json.Marshal(map[string]string{"content": msg})
	comment = s.do(t, "POST", "/v1/private/conversations/"+productConv+"/comments", string(b), "Authorization", "Bearer "+tok,
		"Content-Type", "application/json", "x-business-user-id", acmeUser)
	return reply, comment
}

// reread returns the reply text and the comment contents as the API shows them now.
func (s *server) reread(t *testing.T, tok string) (reply any, comments []string) {
	t.Helper()
	r := s.do(t, "GET", "/v1/private/reviews/"+openService, "", "Authorization", "Bearer "+tok)
	if cr, ok := r.body["companyReply"].(map[string]any); ok {
		reply = cr["text"]
	}
	c := s.do(t, "GET", "/v1/private/conversations/"+productConv, "", "Authorization", "Bearer "+tok)
	for _, cm := range c.body["comments"].([]any) {
		comments = append(comments, cm.(map[string]any)["content"].(string))
	}
	return reply, comments
}

func TestReplyTextSwitch(t *testing.T) {
	t.Parallel()
	const posted = "  Thank you,\r\n\r\n\r\n   Jane!\t\tSee  you\rsoon.  \n"
	tests := []struct {
		mode TextMode
		set  string // "go", "http" or "unit": how the switch is set
		want string
	}{
		{TextVerbatim, "go", posted},
		{TextLines, "go", "Thank you,\n\nJane! See you\nsoon."},
		{TextLines, "http", "Thank you,\n\nJane! See you\nsoon."},
		{TextFlatten, "unit", "Thank you, Jane! See you soon."},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.mode, "/", tt.set), func(t *testing.T) {
			t.Parallel()
			s := start(t, Options{})
			sw := Switches{ReplyText: tt.mode}
			switch tt.set {
			case "go":
				if err := s.SetSwitches(acme, sw); err != nil {
					t.Fatal(err)
				}
			case "http":
				if r := s.do(t, "PUT", "/_sim/business-units/"+acme+"/switches", fmt.Sprintf(`{"replyText":%q}`, tt.mode)); r.status != 200 {
					t.Fatalf("PUT switches: %d %s", r.status, r.raw)
				}
			case "unit":
				u := DefaultFixture().BusinessUnits[0]
				u.Switches = sw
				b, _ := json.Marshal(u)
				if !strings.Contains(string(b), `"replyText":"flat"`) {
					t.Fatalf("switch not at the unit's top level: %s", b)
				}
				if r := s.do(t, "POST", "/_sim/business-units", string(b)); r.status != 200 {
					t.Fatalf("POST unit: %d %s", r.status, r.raw)
				}
			}
			if got, _ := s.Switches(acme); got != sw {
				t.Fatalf("switches = %+v", got)
			}
			tok := s.token(t, "acme-key", "acme-secret")
			reply, comment := s.replyAndComment(t, tok, posted)
			if reply.status != 201 || comment.status != 201 || comment.body["content"] != tt.want {
				t.Fatalf("posts: %d, %d %s", reply.status, comment.status, comment.raw)
			}
			text, comments := s.reread(t, tok)
			if text != tt.want || len(comments) != 1 || comments[0] != tt.want {
				t.Errorf("re-read %q / %q, want %q", text, comments, tt.want)
			}
			// What was received is kept as sent.
			if rs := s.Replies(openService); len(rs) != 1 || rs[0].Message != posted {
				t.Errorf("replies %+v", rs)
			}
		})
	}
}

func TestDropAfterFault(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	tok := s.token(t, "acme-key", "acme-secret")
	for _, path := range []string{"/v1/private/reviews/*/reply", "/v1/private/conversations/*/comments"} {
		if r := s.do(t, "POST", "/_sim/faults", fmt.Sprintf(`{"method":"POST","path":%q,"drop_after":true,"times":1}`, path)); r.status != 201 {
			t.Fatalf("add fault: %d %s", r.status, r.raw)
		}
	}
	post := func(path, body string, hdr ...string) (int, error) {
		req, _ := http.NewRequest("POST", s.base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		defer res.Body.Close()
		_, err = io.ReadAll(res.Body)
		return res.StatusCode, err
	}
	reply := fmt.Sprintf(`{"authorBusinessUserId":%q,"message":"Thanks!"}`, acmeUser)
	if status, err := post("/v1/private/reviews/"+openService+"/reply", reply); err == nil {
		t.Fatalf("reply answered %d despite drop_after", status)
	}
	if status, err := post("/v1/private/conversations/"+productConv+"/comments", `{"content":"Sorry!"}`, "x-business-user-id", acmeUser); err == nil {
		t.Fatalf("comment answered %d despite drop_after", status)
	}
	// Both were committed.
	if got, _ := s.ServiceReview(openService); got.CompanyReply == nil || got.CompanyReply.Text != "Thanks!" {
		t.Errorf("reply not stored: %+v", got.CompanyReply)
	}
	if cs := s.Comments(productConv); len(cs) != 1 || cs[0].Content != "Sorry!" {
		t.Errorf("comments %+v", cs)
	}
	// The fault was used up: a repeat is answered, the reply with the conflict.
	if status, err := post("/v1/private/reviews/"+openService+"/reply", reply); err != nil || status != 409 {
		t.Errorf("repeat reply: %d %v, want 409", status, err)
	}
	if n := s.Calls("reply"); n != 2 {
		t.Errorf("reply calls %d", n)
	}
}

func TestReplyVisibilityDelaySwitch(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	if r := s.do(t, "PUT", "/_sim/business-units/"+acme+"/switches", `{"replyVisibilityDelay":"2m"}`); r.status != 200 {
		t.Fatalf("PUT switches: %d %s", r.status, r.raw)
	}
	var sw Switches
	if err := json.Unmarshal(s.do(t, "GET", "/_sim/business-units/"+acme+"/switches", "").raw, &sw); err != nil || time.Duration(sw.ReplyVisibilityDelay) != 2*time.Minute {
		t.Fatalf("GET switches: %+v %v", sw, err)
	}
	tok := s.token(t, "acme-key", "acme-secret")
	if reply, comment := s.replyAndComment(t, tok, "Thanks!"); reply.status != 201 || comment.status != 201 {
		t.Fatalf("posts: %d %d", reply.status, comment.status)
	}
	unresponded := func() bool {
		r := s.do(t, "GET", "/v1/private/business-units/"+acme+"/reviews?responded=false&perPage=100", "", "Authorization", "Bearer "+tok)
		for _, rv := range r.body["reviews"].([]any) {
			if rv.(map[string]any)["id"] == openService {
				return true
			}
		}
		return false
	}
	check := func(when string, visible bool) {
		t.Helper()
		text, comments := s.reread(t, tok)
		if (text != nil) != visible || (len(comments) == 1) != visible || len(comments) > 1 || unresponded() == visible {
			t.Errorf("%s: reply %v comments %q unresponded %v, want visible=%v", when, text, comments, unresponded(), visible)
		}
	}
	check("just posted", false)
	// The review has a reply, it just does not show: a second POST is still a conflict.
	if reply, _ := s.replyAndComment(t, tok, "Another"); reply.status != 409 {
		t.Errorf("second reply during the delay: %d, want 409", reply.status)
	}
	// The second comment is stored too (comments append); inspection shows everything.
	if got, _ := s.ServiceReview(openService); got.CompanyReply == nil || got.CompanyReply.Text != "Thanks!" {
		t.Errorf("stored reply %+v", got.CompanyReply)
	}
	if n := len(s.Comments(productConv)); n != 2 {
		t.Errorf("stored comments %d, want 2", n)
	}
	s.Advance(time.Minute)
	check("after 1m", false)
	s.Advance(time.Minute)
	text, comments := s.reread(t, tok)
	if text != "Thanks!" || len(comments) != 2 || unresponded() {
		t.Errorf("after the delay: %v %q", text, comments)
	}
}

func TestSwitchValidation(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	if err := s.SetSwitches(acme, Switches{ReplyText: "squash"}); err == nil {
		t.Error("unknown replyText accepted")
	}
	if err := s.SetSwitches(acme, Switches{ReplyVisibilityDelay: -1}); err == nil {
		t.Error("negative delay accepted")
	}
	if err := s.SetSwitches("5f0c00000000000000000000", Switches{}); err == nil {
		t.Error("unknown unit accepted")
	}
	for body, want := range map[string]int{`{"replyTxt":"lines"}`: 400, `{"replyText":"squash"}`: 400, `{"replyVisibilityDelay":"soon"}`: 400} {
		if r := s.do(t, "PUT", "/_sim/business-units/"+acme+"/switches", body); r.status != want {
			t.Errorf("PUT %s: %d, want %d", body, r.status, want)
		}
	}
	if r := s.do(t, "PUT", "/_sim/business-units/5f0c00000000000000000000/switches", `{}`); r.status != 404 {
		t.Errorf("unknown unit over HTTP: %d", r.status)
	}
	if _, err := ParseFixture([]byte(`{"businessUnits":[{"id":"a","apiKey":"k","apiSecret":"s","replyText":"lines","replyVisibilityDelay":"1s"}]}`)); err != nil {
		t.Errorf("fixture with switches: %v", err)
	}
	if sw, _ := s.Switches(acme); sw != (Switches{}) {
		t.Errorf("switches changed by refused calls: %+v", sw)
	}
}
