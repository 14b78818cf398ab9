// Package replyguard checks an agent's reply before it is posted publicly under a Trustpilot
// review. A review keeps only one reply, so posting cannot be undone: the guard looks for
// personal data (email addresses, phone numbers, postal addresses, the review's own reference or
// order id) and for what Trustpilot's guidelines forbid a business to ask in public (to change
// or remove the review, or an offer in exchange for doing so), in English, French, German,
// Spanish and Dutch.
//
// The guard is a set of predictable shapes and phrases, not a classifier: it is tuned to hold
// a reply when in doubt and to say exactly which text made it do so, so that an agent can fix
// the reply or override the hold.
package replyguard

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// Kind is what the guard found.
type Kind string

// The kinds of findings.
const (
	Email     Kind = "email"
	Phone     Kind = "phone"
	Address   Kind = "address"
	Reference Kind = "reference"
	// ChangeRequest asks to edit/update/remove/delete/take down the review or raise the rating.
	ChangeRequest Kind = "change-request"
	// Incentive offers something (refund, voucher, discount, gift, money) in exchange for
	// changing or removing the review.
	Incentive Kind = "incentive"
)

// Finding is one thing the guard found in a reply.
type Finding struct {
	Kind  Kind   // what was found
	Match string // the exact text found (as it appears in the reply)
	Lang  string // language of the rule that matched ("en","fr","de","es","nl"), "" for language-independent shapes
}

// hit is a Finding with its place in the reply's original text, [start, end) in bytes.
type hit struct {
	Finding
	start, end int
}

// Options tell the guard about the review being answered.
type Options struct {
	// Language is the review's language (e.g. "en", "fr-FR", "de"). It is a hint: the rules of
	// all supported languages are checked anyway; the hint decides which language a finding is
	// attributed to when rules of several languages match the same text.
	Language string
	// References are ids that must not appear publicly: the review's referenceId, the order
	// number. Empty ones and ones shorter than MinReferenceLen are ignored.
	References []string
}

// MinReferenceLen is the shortest reference Check looks for: shorter ones ("12", "A1") would
// match ordinary text.
const MinReferenceLen = 4

// MaxLen is how much of a reply Check reads. Trustpilot replies are far shorter; the cap only
// bounds the work on absurd input. Text beyond it is not checked.
const MaxLen = 64 << 10

// maxFindings bounds the findings one reply can produce.
const maxFindings = 64

// languages are the supported languages in their default order.
var languages = []string{"en", "fr", "de", "es", "nl"}

// Check returns what the guard found in a reply's text, ordered by position in the text, or
// nil when the reply can be posted.
func Check(text string, opt Options) []Finding {
	hs := check(text, opt)
	if len(hs) == 0 {
		return nil
	}
	fs := make([]Finding, len(hs))
	for i, h := range hs {
		fs[i] = h.Finding
	}
	return fs
}

// check is Check with each finding's place in the text.
func check(text string, opt Options) []hit {
	if len(text) > MaxLen {
		n := MaxLen
		for n > 0 && !utf8.RuneStart(text[n]) {
			n--
		}
		text = text[:n]
	}
	f := fold(text)
	rank := langRank(opt.Language)

	var fs []hit
	fs = append(fs, findReferences(f, opt.References)...)
	fs = append(fs, findEmails(f)...)
	fs = append(fs, findAddresses(f)...)
	fs = append(fs, findPhones(f)...)
	ws := objectWindows(f)
	requests := findRequests(f, ws)
	fs = append(fs, requests...)
	fs = append(fs, findIncentives(f, requests, ws)...)
	return resolve(fs, rank)
}

// langRank orders the languages: the hint's first, then the default order.
func langRank(hint string) map[string]int {
	hint = strings.ToLower(strings.TrimSpace(hint))
	if i := strings.IndexAny(hint, "-_"); i >= 0 {
		hint = hint[:i]
	}
	rank := make(map[string]int, len(languages)+1)
	rank[""] = 0
	n := 1
	if hint != "" {
		rank[hint] = n
		n++
	}
	for _, l := range languages {
		if _, ok := rank[l]; !ok {
			rank[l] = n
			n++
		}
	}
	return rank
}

// kindOrder breaks ties between findings at the same position.
var kindOrder = map[Kind]int{Reference: 0, Email: 1, Address: 2, Phone: 3, ChangeRequest: 4, Incentive: 5}

// resolve orders the findings by position and drops duplicates: overlapping findings of one
// kind (the preferred language wins), and phone numbers inside a reference, an email address
// or a postal address (the larger finding already says it).
func resolve(fs []hit, rank map[string]int) []hit {
	if len(fs) == 0 {
		return nil
	}
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.start != b.start {
			return a.start < b.start
		}
		if kindOrder[a.Kind] != kindOrder[b.Kind] {
			return kindOrder[a.Kind] < kindOrder[b.Kind]
		}
		if rank[a.Lang] != rank[b.Lang] {
			return rank[a.Lang] < rank[b.Lang]
		}
		return a.end > b.end
	})
	overlaps := func(a, b hit) bool { return a.start < b.end && b.start < a.end }
	var out []hit
	for _, f := range fs {
		keep := true
		for _, k := range out {
			if !overlaps(f, k) {
				continue
			}
			if k.Kind == f.Kind || (f.Kind == Phone && (k.Kind == Reference || k.Kind == Email || k.Kind == Address)) {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, f)
		}
	}
	// A later, larger finding can swallow an earlier phone number (an address whose street
	// number comes first): drop those phones too.
	var final []hit
	for _, f := range out {
		drop := false
		if f.Kind == Phone {
			for _, k := range out {
				if (k.Kind == Reference || k.Kind == Email || k.Kind == Address) && overlaps(f, k) {
					drop = true
					break
				}
			}
		}
		if !drop {
			final = append(final, f)
		}
	}
	if len(final) > maxFindings {
		final = final[:maxFindings]
	}
	return final
}

// maxQuoted is how much of a Match a Reason quotes.
const maxQuoted = 80

// Reason says in one sentence fragment what was found, for an agent: `a phone number ("+44 20
// 7946 0958")`.
func (f Finding) Reason() string {
	var what string
	switch f.Kind {
	case Email:
		what = "an email address"
	case Phone:
		what = "a phone number"
	case Address:
		what = "a postal address"
	case Reference:
		what = "the review's reference or order number"
	case ChangeRequest:
		what = "a request to change or remove the review"
	case Incentive:
		what = "an offer in exchange for changing or removing the review"
	default:
		what = "something not to post publicly"
	}
	m := strings.Join(strings.Fields(f.Match), " ")
	if len(m) > maxQuoted {
		n := maxQuoted
		for n > 0 && !utf8.RuneStart(m[n]) {
			n--
		}
		m = m[:n] + "…"
	}
	return fmt.Sprintf("%s (%q)", what, m)
}

// Summary lists the reasons on one line, for an internal note; "" when there is nothing.
func Summary(fs []Finding) string {
	seen := make(map[string]bool, len(fs))
	var reasons []string
	for _, f := range fs {
		r := f.Reason()
		if !seen[r] {
			seen[r] = true
			reasons = append(reasons, r)
		}
	}
	return strings.Join(reasons, "; ")
}
