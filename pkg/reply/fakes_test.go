package reply_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
	"github.com/pilotdesk/pilotdesk/pkg/gorgias"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/queue"
	"github.com/pilotdesk/pilotdesk/pkg/reply"
	"github.com/pilotdesk/pilotdesk/pkg/review"
)

// The fakes keep the store's reply-slot rules (see pkg/store/replies.go) in memory.

type fakeStore struct {
	mu      sync.Mutex
	links   map[string]*link.Link // by review id
	conn    connection.Record
	once    map[string]bool
	reauth  []string
	claims  int
	linkErr error
	now     func() time.Time
}

var _ reply.Store = (*fakeStore)(nil)

func newFakeStore(c connection.Connection, links ...link.Link) *fakeStore {
	s := &fakeStore{links: map[string]*link.Link{}, conn: connection.Record{Connection: c}, once: map[string]bool{}, now: time.Now}
	for _, l := range links {
		s.links[l.ReviewID] = &l
	}
	return s
}

func (s *fakeStore) LinksByTicket(_ context.Context, _ string, ticketID int64) ([]link.Link, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.linkErr != nil {
		return nil, s.linkErr
	}
	var out []link.Link
	for _, l := range s.links {
		if l.TicketID == ticketID {
			out = append(out, *l)
		}
	}
	return out, nil
}

func (s *fakeStore) GetConnectionForReplies(_ context.Context, id string) (connection.Record, error) {
	if id != s.conn.Connection.ID {
		return connection.Record{}, errs.E(errs.NotExist, "fake", fmt.Errorf("no connection %s", id))
	}
	return s.conn, nil
}

func (s *fakeStore) ClaimReply(_ context.Context, connID, reviewID string, messageID int64, owner string, ttl time.Duration) (link.SlotClaim, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.claims++
	l := s.links[reviewID]
	if l == nil || l.ConnectionID != connID || l.State != link.StateLinked {
		return link.SlotClaim{Status: link.SlotNoLink}, nil
	}
	now := s.now()
	if l.ReplyRefused == messageID {
		return link.SlotClaim{Status: link.SlotRefusedBefore, Link: *l}, nil
	}
	if l.ReplyState == link.ReplyNone || (l.ReplyState == link.ReplyClaimed && l.ReplyMessage == messageID && l.ReplyExpires.Before(now)) {
		l.ReplyState, l.ReplyMessage, l.ReplyOwner, l.ReplyExpires = link.ReplyClaimed, messageID, owner, now.Add(ttl)
		return link.SlotClaim{Status: link.SlotGranted, Link: *l}, nil
	}
	if l.ReplyState == link.ReplyClaimed && l.ReplyMessage == messageID {
		return link.SlotClaim{Status: link.SlotBusy, Link: *l}, nil
	}
	return link.SlotClaim{Status: link.SlotUsed, Link: *l}, nil
}

func (s *fakeStore) FinishReply(_ context.Context, _, reviewID string, messageID int64, state, result string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.links[reviewID]
	if l == nil || l.ReplyState != link.ReplyClaimed || l.ReplyMessage != messageID {
		return errs.E(errs.Conflict, "fake", fmt.Errorf("claim not held"))
	}
	l.ReplyState, l.ReplyResult, l.ReplyExpires = state, result, time.Time{}
	return nil
}

func (s *fakeStore) ReleaseReply(_ context.Context, _, reviewID string, messageID int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.links[reviewID]; l != nil && l.ReplyState == link.ReplyClaimed && l.ReplyMessage == messageID {
		l.ReplyExpires = time.Time{}
	}
	return nil
}

func (s *fakeStore) ReopenReply(_ context.Context, _, reviewID string, messageID int64, result string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.links[reviewID]; l != nil && l.ReplyState == link.ReplyClaimed && l.ReplyMessage == messageID {
		l.ReplyState, l.ReplyMessage, l.ReplyResult, l.ReplyExpires, l.ReplyRefused = link.ReplyNone, 0, result, time.Time{}, messageID
	}
	return nil
}

func (s *fakeStore) SetReauth(_ context.Context, id string, needs bool, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if needs {
		s.reauth = append(s.reauth, id)
	}
	return nil
}

func (s *fakeStore) MarkOnce(_ context.Context, key string, _ time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.once[key] {
		return false, nil
	}
	s.once[key] = true
	return true, nil
}

func (s *fakeStore) link(reviewID string) link.Link {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.links[reviewID]
}

type fakeHelpdesk struct {
	mu       sync.Mutex
	messages map[int64]gorgias.Message
	getErr   error
	gets     int
	notes    []string
}

var _ reply.Helpdesk = (*fakeHelpdesk)(nil)

func (h *fakeHelpdesk) GetMessage(_ context.Context, ticketID, messageID int64) (gorgias.Message, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gets++
	if h.getErr != nil {
		return gorgias.Message{}, h.getErr
	}
	m, ok := h.messages[messageID]
	if !ok || m.TicketID != ticketID {
		return gorgias.Message{}, errs.E(errs.NotExist, "fake", fmt.Errorf("no message %d", messageID))
	}
	return m, nil
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

func (t *fakeTrustpilot) ReplyToProductReview(_ context.Context, _, message string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.next(); err != nil {
		return err
	}
	t.comments = append(t.comments, message)
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
	store *fakeStore
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

func newWorld() *world {
	c := connection.Connection{ID: connID, Reply: connection.ReplyPolicy{Service: connection.ReplyFirst, Product: connection.ReplyFirst}}
	w := &world{
		store: newFakeStore(c,
			link.Link{ConnectionID: connID, ReviewID: serviceReview, Kind: review.Service, State: link.StateLinked, TicketID: serviceTicket},
			link.Link{ConnectionID: connID, ReviewID: productReview, Kind: review.Product, State: link.StateLinked, TicketID: productTicket}),
		hd: &fakeHelpdesk{messages: map[int64]gorgias.Message{}},
		tp: &fakeTrustpilot{},
		q:  &fakeQueue{},
	}
	w.svc = &reply.Service{
		Store: w.store, Queue: w.q, Owner: "test", Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Open: reply.OpenerFunc(func(context.Context, connection.Connection) (reply.Helpdesk, reply.Trustpilot, error) {
			return w.hd, w.tp, nil
		}),
	}
	return w
}

// agentMessage is a public agent e-mail reply on a ticket.
func agentMessage(id, ticketID int64, text string) gorgias.Message {
	return gorgias.Message{ID: id, TicketID: ticketID, FromAgent: true, Public: true, Channel: "email", Via: "helpdesk", BodyText: text, StrippedText: text}
}

// event is the webhook body the installed integration renders for a message.
func event(ticketID, messageID int64, hints string) []byte {
	if hints == "" {
		hints = `"from_agent":"True","public":"True","channel":"email","via":"helpdesk","rule_id":"None"`
	}
	return fmt.Appendf(nil, `{"event":"ticket-message-created","ticket_id":"%d","message_id":"%d",%s}`, ticketID, messageID, hints)
}
