package replyguard

import (
	"strings"
	"testing"
)

// benchReply is a 1 000-byte reply with a little of everything the guard looks at: an order
// number, dates, prices, opening hours, a review mention and a signature with a phone number.
var benchReply = func() string {
	s := "Hi Sarah,\n\nThank you for your review, and I'm sorry about order #48213. The parcel left our warehouse on " +
		"12/05/2024, but our courier needed 3-5 business days instead of the usual 2 because of the bank holiday " +
		"backlog. We have refunded the €4.99 delivery fee to your card and passed your comments to our logistics " +
		"team, who changed our delivery partner for your region last week. Your feedback really helps us improve. " +
		"The 2 x 500 ml bottles you ordered are back in stock, and the larger 1 litre size arrives in early July. " +
		"Our chat is open 9:00-17:00 on weekdays if you want to follow anything up, or you can write to us through " +
		"the contact form on our website and we will update you by email. Merci encore, et à bientôt ! " +
		"Thanks again for taking the time to tell us about this, and we hope to see you again soon."
	s += "\n\nKind regards,\nAnna | Customer Care | +44 20 7946 0958"
	if len(s) > 1000 {
		s = s[:1000]
	}
	return s + strings.Repeat(" ", 1000-len(s))
}()

func BenchmarkCheck(b *testing.B) {
	opt := Options{Language: "en", References: []string{"ORD-55821"}}
	if len(benchReply) != 1000 {
		b.Fatalf("reply is %d bytes", len(benchReply))
	}
	if fs := Check(benchReply, opt); len(fs) != 1 || fs[0].Kind != Phone {
		b.Fatalf("the reply should hold its signature's phone number only, got %v", fs)
	}
	b.SetBytes(int64(len(benchReply)))
	b.ReportAllocs()
	for b.Loop() {
		Check(benchReply, opt)
	}
}
