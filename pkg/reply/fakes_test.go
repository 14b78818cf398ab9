package reply_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/gorgias"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/queue"
	"github.com/pilotdesk/pilotdesk/pkg/reply"
	"github.com/pilotdesk/pilotdesk/pkg/review"
	"github.com/pilotdesk/pilotdesk/pkg/store/memstore"
)

// spyStore is the in-memory store (the same rules as DynamoDB, proven by pkg/store/storetest)
// with a count of reply claims and an injectable link look-up failure.
type spyStore struct {
	*memstore.Store
	mu      sync.Mutex
	claims  int
	lookups int // LinksByTicket calls
	linkErr error
}

var _ reply.Store = (*spyStore)(nil)

func (s *spyStore) ClaimReply(ctx context.Context, connID, reviewID string, messageID int64, owner string, ttl time.Duration) (link.SlotClaim, error) {
	s.mu.Lock()
	s.claims++
	s.mu.Unlock()
	return s.Store.ClaimReply(ctx, connID, reviewID, messageID, owner, ttl)
}

func (s *spyStore) LinksByTicket(ctx context.Context, ticketID int64) ([]link.Link, error) {
	s.mu.Lock()
	err := s.linkErr
	s.lookups++
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return s.Store.LinksByTicket(ctx, ticketID)
}

func (s *spyStore) claimCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.claims
}

// link reads a review's link back from the store.
func (s *spyStore) link(t testing.TB, reviewID string) link.Link {
	t.Helper()
	l, err := s.GetLink(context.Background(), connID, reviewID)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// needsReauth reads the connection's re-authorise flag.
func (s *spyStore) needsReauth(t testing.TB) bool {
	t.Helper()
	rec, err := s.GetConnectionForReplies(context.Background(), connID)
	if err != nil {
		t.Fatal(err)
	}
	return rec.NeedsReauth
}

// setPolicy rewrites the connection with a service reply policy.
func (s *spyStore) setPolicy(t testing.TB, p string) {
	t.Helper()
	rec, err := s.GetConnectionForReplies(context.Background(), connID)
	if err != nil {
		t.Fatal(err)
	}
	rec.Connection.Reply.Service = p
	if err := s.PutConnection(context.Background(), rec.Connection); err != nil {
		t.Fatal(err)
	}
}

// seedLink links a review to a ticket the way sync does: claim, then confirm.
func seedLink(t testing.TB, st *memstore.Store, reviewID string, kind review.Kind, ticketID int64) {
	t.Helper()
	ctx := context.Background()
	if c, err := st.ClaimReview(ctx, connID, reviewID, kind, "sync", time.Minute); err != nil || c.Status != link.ClaimGranted {
		t.Fatalf("claim %s: %v %v", reviewID, c.Status, err)
	}
	if err := st.ConfirmLink(ctx, link.Confirm{ConnectionID: connID, ReviewID: reviewID, Owner: "sync", Account: "acme.gorgias.com", TicketID: ticketID}); err != nil {
		t.Fatal(err)
	}
}

type fakeHelpdesk struct {
	mu         sync.Mutex
	messages   map[int64]gorgias.Message
	getErr     error
	getErrOnce bool
	gets       int
	notes      []string
	tickets    []gorgias.Ticket // for the sweep's list
	lists      int
}

var _ reply.Helpdesk = (*fakeHelpdesk)(nil)

func (h *fakeHelpdesk) ListMessages(_ context.Context, ticketID int64, _ string) ([]gorgias.Message, string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gets++
	if h.getErr != nil {
		err := h.getErr
		if h.getErrOnce {
			h.getErr = nil
		}
		return nil, "", err
	}
	var out []gorgias.Message
	for _, m := range h.messages {
		if m.TicketID == ticketID {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b gorgias.Message) int { return cmp.Compare(a.ID, b.ID) })
	return out, "", nil
}

func (h *fakeHelpdesk) ListTicketsUpdated(_ context.Context, _ string) ([]gorgias.TicketUpdate, string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lists++
	out := make([]gorgias.TicketUpdate, 0, len(h.tickets))
	for _, t := range h.tickets {
		out = append(out, gorgias.TicketUpdate{ID: t.ID, ExternalID: t.ExternalID, CreatedDatetime: t.CreatedDatetime,
			UpdatedDatetime: t.UpdatedDatetime, LastMessageDatetime: t.LastMessageDatetime})
	}
	slices.SortFunc(out, func(a, b gorgias.TicketUpdate) int { return b.UpdatedDatetime.Compare(a.UpdatedDatetime) })
	return out, "", nil
}

func (h *fakeHelpdesk) PostInternalNote(_ context.Context, ticketID int64, text string) (gorgias.Message, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.notes = append(h.notes, text)
	return gorgias.Message{ID: int64(900 + len(h.notes)), TicketID: ticketID, Channel: gorgias.ChannelInternalNote, Via: "api"}, nil
}

// fakeTrustpilot answers with errs in order, then nil.
type fakeTrustpilot struct {
	mu       sync.Mutex
	errs     []error
	replies  []string // service
	comments []string // product
	calls    int
	hang     bool // wait for the context's end instead of answering
	// lostAnswers: the next product comments are committed, but the caller gets a transient
	// error (the answer was lost); hidden: committed comments do not show to look-ups yet.
	lostAnswers int
	hidden      bool
}

var _ reply.Trustpilot = (*fakeTrustpilot)(nil)

func (t *fakeTrustpilot) next() error {
	t.calls++
	if len(t.errs) > 0 {
		err := t.errs[0]
		t.errs = t.errs[1:]
		return err
	}
	return nil
}

func (t *fakeTrustpilot) ReplyToServiceReview(ctx context.Context, _, message string) error {
	if t.hang {
		<-ctx.Done()
		return fmt.Errorf("post reply: %w", ctx.Err())
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.next(); err != nil {
		return err
	}
	t.replies = append(t.replies, message)
	return nil
}

func (t *fakeTrustpilot) ProductReplyPosted(_ context.Context, _, message string) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.hidden && slices.Contains(t.comments, message), nil
}

func (t *fakeTrustpilot) ReplyToProductReview(_ context.Context, _, message string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.next(); err != nil {
		return err
	}
	t.comments = append(t.comments, message)
	if t.lostAnswers > 0 {
		t.lostAnswers--
		return errs.E(errs.Transient, "tp", errors.New("connection closed after the comment was committed"))
	}
	return nil
}

type fakeQueue struct {
	mu     sync.Mutex
	jobs   []queue.Job
	delays []time.Duration
	err    error
}

var _ reply.Enqueuer = (*fakeQueue)(nil)

func (q *fakeQueue) Send(_ context.Context, jobs []queue.Job, delay time.Duration) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return q.err
	}
	q.jobs = append(q.jobs, jobs...)
	q.delays = append(q.delays, delay)
	return nil
}

// world is one service with its fakes: one connection, a service review on ticket 10 and a
// product review on ticket 20.
type world struct {
	svc   *reply.Service
	store *spyStore
	hd    *fakeHelpdesk
	tp    *fakeTrustpilot
	q     *fakeQueue
}

const (
	connID        = "shop"
	serviceReview = "5f0c000000000000000000a1"
	productReview = "5f0c000000000000000000b2"
	serviceTicket = int64(10)
	productTicket = int64(20)
)

func newWorld(t testing.TB, cfg ...reply.Config) *world {
	t.Helper()
	c := connection.Connection{ID: connID, Helpdesk: connection.Helpdesk{Type: "gorgias", URL: "https://acme.gorgias.com"}, Reply: connection.ReplyPolicy{Service: connection.ReplyFirst, Product: connection.ReplyFirst}}
	st := memstore.New()
	if err := st.PutConnection(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	seedLink(t, st, serviceReview, review.Service, serviceTicket)
	seedLink(t, st, productReview, review.Product, productTicket)
	w := &world{
		store: &spyStore{Store: st},
		hd:    &fakeHelpdesk{messages: map[int64]gorgias.Message{}},
		tp:    &fakeTrustpilot{},
		q:     &fakeQueue{},
	}
	w.svc = reply.New(w.store, reply.OpenerFunc(func(context.Context, connection.Connection) (reply.Helpdesk, reply.Trustpilot, error) {
		return w.hd, w.tp, nil
	}), w.q, slog.New(slog.NewTextHandler(io.Discard, nil)), "test", append(cfg, reply.Config{})[0])
	return w
}

// agentMessage is a public agent e-mail reply on a ticket.
func agentMessage(id, ticketID int64, text string) gorgias.Message {
	return gorgias.Message{ID: id, TicketID: ticketID, FromAgent: true, Public: true, Channel: "email", Via: "helpdesk", BodyText: text, StrippedText: text}
}

// event is the parsed delivery of the body the installed integration renders for a message.
func event(t testing.TB, ticketID, messageID int64, hints string) gorgias.WebhookEvent {
	t.Helper()
	ev, err := gorgias.ParseWebhook(eventBody(ticketID, messageID, hints))
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// eventBody is the webhook body the installed integration renders for a message.
func eventBody(ticketID, messageID int64, hints string) []byte {
	if hints == "" {
		hints = `"from_agent":"True","public":"True","channel":"email","via":"helpdesk","rule_id":"None"`
	}
	return fmt.Appendf(nil, `{"event":"ticket-message-created","ticket_id":"%d","message_id":"%d",%s}`, ticketID, messageID, hints)
}
