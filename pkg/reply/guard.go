package reply

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"

	"github.com/pilotdesk/pilotdesk/pkg/gorgias"
	"github.com/pilotdesk/pilotdesk/pkg/link"
	"github.com/pilotdesk/pilotdesk/pkg/metrics"
	"github.com/pilotdesk/pilotdesk/pkg/replyguard"
)

// OverrideMarker, in a public reply, posts it without the public-reply guard; in an internal
// note, it posts the reply the guard held as it is. It is never posted itself.
const OverrideMarker = "#post-anyway"

// OutcomeHeld is the outcome of a reply the guard held back.
const OutcomeHeld = OutcomeRefused + ": held by the public-reply guard"

var markerRe = regexp.MustCompile(`(?i)[ \t]*` + regexp.QuoteMeta(OverrideMarker) + `\b[ \t]*`)

// stripOverride removes the override marker from a reply's text, and reports whether it was
// there.
func stripOverride(text string) (string, bool) {
	if !markerRe.MatchString(text) {
		return text, false
	}
	lines := strings.Split(markerRe.ReplaceAllString(text, " "), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.TrimSpace(strings.Join(lines, "\n")), true
}

// overrideOfHeld finds an agent's internal note with the marker, written after the reply the
// guard held, on a ticket whose review's reply is still free: the delivered message when the
// webhook named one, any such note when the sweep or a retry looks (delivered 0). It returns the
// held reply and the note.
func overrideOfHeld(msgs []gorgias.Message, lk link.Link, delivered int64) (held, note gorgias.Message, ok bool) {
	if !lk.ReplyHeld() {
		return held, note, false
	}
	held, found := findMessage(msgs, lk.ReplyRefused)
	if !found || !isAgentReply(held) {
		return held, note, false
	}
	for _, m := range msgs {
		if (delivered == 0 || m.ID == delivered) && m.ID != held.ID && isOverrideNote(m) && !m.CreatedDatetime.Before(held.CreatedDatetime) {
			return held, m, true
		}
	}
	return held, note, false
}

// isOverrideNote reports whether m is an agent's internal note (not one written through the
// API, as Pilotdesk's own are) that carries the marker.
func isOverrideNote(m gorgias.Message) bool {
	return m.Channel == gorgias.ChannelInternalNote && m.Via != "api" && m.RuleID == nil &&
		markerRe.MatchString(m.BodyText+" "+m.StrippedText+" "+HTMLToText(m.BodyHTML))
}

// hold keeps a reply the guard flagged off Trustpilot: the slot is freed for the next reply
// (the review's one reply is not used), the link counts it, and the agent gets a note saying
// what was found and how to send it anyway.
func (s *Service) hold(ctx context.Context, hd Helpdesk, slot, lk link.Link, messageID int64, found []replyguard.Finding, log *slog.Logger) (string, link.Link, error) {
	summary := replyguard.Summary(found)
	if err := s.Store.HoldReply(ctx, lk.ConnectionID, lk.ReviewID, messageID, link.HeldPrefix+summary); err != nil {
		return "", slot, err
	}
	kinds := make([]string, len(found))
	for i, f := range found {
		kinds[i] = string(f.Kind)
	}
	log.Info("reply held by the public-reply guard", "found", strings.Join(kinds, ","))
	metrics.Add(metrics.RepliesHeld, 1)
	s.noteOnce(ctx, hd, lk, fmt.Sprintf("held#%d", messageID), HeldNote(summary), log)
	after := slot
	after.ReplyState, after.ReplyMessage, after.ReplyRefused, after.ReplyResult = link.ReplyNone, 0, messageID, link.HeldPrefix+summary
	after.Held++
	return OutcomeHeld, after, nil
}

// HeldNote is the agent's note on a held reply.
func HeldNote(summary string) string {
	return "Pilotdesk: this reply was NOT posted to Trustpilot. It contains " + summary + ". " +
		"A reply under a review is public and a review keeps only one, so nothing was posted: the review's reply is still free. " +
		"To post a corrected reply, send it as a new public reply on this ticket. " +
		"To post this reply as it is, write an internal note with " + OverrideMarker + " (or send the reply again with " + OverrideMarker +
		" in it; the marker is removed before posting)."
}
