package trustpilotsim

import (
	_ "embed"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"time"
)

//go:embed testdata/seed.json
var seedJSON []byte

// DefaultFixture is the hand-written seed in testdata/seed.json: two business units with their
// credentials, and reviews with the shapes that break naive clients (null title/text/name, no
// referralEmail, emoji, right-to-left text, HTML, a 10k-character text, a location, an existing
// companyReply, invited reviews with an email, zone-less and fractional timestamps).
func DefaultFixture() Fixture {
	f, err := ParseFixture(seedJSON)
	if err != nil {
		panic(err) // the embedded file is tested
	}
	return f
}

var (
	genTitles = []string{"Great service", "Slow delivery", "", "Would buy again", "Not as described", "👍", "خدمة ممتازة"}
	genTexts  = []string{
		"Ordered on Monday, arrived on Wednesday. Well packed.",
		"The parcel was late and support took a week to answer.",
		"<b>Excellent</b> & fast — 10/10 <script>alert(1)</script>",
		"Très bien, merci ! 😀🎉",
		"המשלוח הגיע מהר מאוד, תודה רבה",
		"",
	}
	genNames = []string{"Jane D.", "Ahmed", "", "Zoë Ünal", "李雷", "customer"}
)

// Generate builds a deterministic fixture of nService service and nProduct product reviews for
// one business unit, created evenly from from to to (oldest first within each kind), with a mix
// of invited and organic reviews, null fields, existing replies and timestamp formats. The same
// arguments give the same reviews; different units give different ids.
func Generate(businessUnitID string, nService, nProduct int, from, to time.Time, seed int64) Fixture {
	h := fnv.New64a()
	_, _ = h.Write([]byte(businessUnitID))
	rng := rand.New(rand.NewPCG(uint64(seed), h.Sum64()))
	id := func() string { return fmt.Sprintf("%08x%016x", rng.Uint32(), rng.Uint64()) }
	at := func(i, n int) time.Time {
		span := to.Sub(from)
		if n <= 1 || span <= 0 {
			return from
		}
		step := span / time.Duration(n)
		return from.Add(step*time.Duration(i) + time.Duration(rng.Int64N(int64(max(step/2, 1))))).Truncate(time.Millisecond)
	}
	format := func(t time.Time, i int) string {
		switch i % 3 {
		case 0:
			return t.UTC().Format("2006-01-02T15:04:05Z")
		case 1:
			return t.UTC().Format("2006-01-02T15:04:05.000Z")
		}
		return t.UTC().Format("2006-01-02T15:04:05") // zone-less, as in Trustpilot's docs
	}
	pick := func(xs []string) *string {
		v := xs[rng.IntN(len(xs))]
		if v == "" {
			return nil
		}
		return &v
	}
	var f Fixture
	for i := range nService {
		created := at(i, nService)
		r := ServiceReview{
			ID:           id(),
			Consumer:     Consumer{ID: id(), DisplayName: pick(genNames), NumberOfReviews: 1 + rng.IntN(20)},
			BusinessUnit: BusinessUnitRef{ID: businessUnitID},
			Stars:        1 + rng.IntN(5),
			Title:        pick(genTitles),
			Text:         pick(genTexts),
			Language:     []string{"en", "fr", "ar", "he", "da"}[rng.IntN(5)],
			CreatedAt:    format(created, i),
			IsVerified:   rng.IntN(2) == 0,
			Source:       "Organic",
		}
		if rng.IntN(2) == 0 { // invited: the email the invitation went to, and an order number
			r.ReferralEmail = Str(fmt.Sprintf("customer%d@example.com", i))
			r.ReferenceID = Str(fmt.Sprintf("ORDER-%05d", i))
			r.Source = "InvitationApi"
			r.Invitation = &Invitation{BusinessUnitID: businessUnitID}
		}
		if rng.IntN(10) == 0 {
			r.UpdatedAt = Str(format(created.Add(time.Hour), i+1))
		}
		if rng.IntN(8) == 0 {
			r.CompanyReply = &CompanyReply{Text: "Thank you for your review.", AuthorBusinessUserID: id(),
				AuthorBusinessUserName: "Support", CreatedAt: format(created.Add(2*time.Hour), i)}
		}
		f.ServiceReviews = append(f.ServiceReviews, r)
	}
	for i := range nProduct {
		created := at(i, nProduct)
		sku := fmt.Sprintf("SKU-%03d", rng.IntN(50))
		r := ProductReview{
			ID:             id(),
			BusinessUnitID: businessUnitID,
			CreatedAt:      format(created, i),
			Stars:          1 + rng.IntN(5),
			Content:        strings.TrimSpace(genTexts[rng.IntN(len(genTexts)-1)]),
			Language:       "en",
			Locale:         "en-US",
			Consumer:       ProductConsumer{ID: id(), Name: pick(genNames), Email: Str(fmt.Sprintf("buyer%d@example.com", i))},
			ReferenceID:    Str(fmt.Sprintf("ORDER-P%05d", i)),
			Product:        Product{ID: id(), SKU: sku, Name: "Product " + sku, ProductURL: "https://shop.example.com/p/" + sku},
		}
		f.ProductReviews = append(f.ProductReviews, r)
	}
	return f
}
