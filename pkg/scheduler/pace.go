package scheduler

import (
	"math"
	"time"
)

// Pacing of Trustpilot polls from a connection's yearly allowance (reference §1.1, §5.1).
const (
	// PollShare of the daily allowance goes to scheduled polls; the rest stays for what cannot
	// wait: webhook fetches, replies, checks, explicit backfills.
	PollShare = 0.75
	// MinInterval is the fastest a kind is polled (the schedule's tick).
	MinInterval = 5 * time.Minute
	// ReconcileBound is the longest a missed webhook event waits for the reconciliation poll
	// when the allowance allows it (four polls a day).
	ReconcileBound = 6 * time.Hour
	// MaxProductInterval bounds how far apart full product scans get, whatever the catalogue.
	MaxProductInterval = 7 * 24 * time.Hour
	// Headroom of the daily allowance stays unplanned when what is not a poll (webhook fetches,
	// replies) outgrows the share PollShare leaves it: the polls then give way, down to their
	// floors (service every ReconcileBound, product every MaxProductInterval).
	Headroom = 0.05
)

// Costs are the Trustpilot calls one run of each pass made last time (0: unknown, counted as 1),
// and Other, the calls a day that are not polls (webhook fetches, replies, checks).
type Costs struct {
	Service, Product, Deep, Deletions int64
	Other                             float64
}

// Pace is when each kind is polled.
type Pace struct {
	Service, Product time.Duration
	// PerDay is the calls a day these intervals cost with the costs given (polls only).
	PerDay float64
}

// Plan paces a connection's polls: with webhooks arriving, service polling is a
// reconciliation (a tenth of what the polls may spend, at least every ReconcileBound); without
// them, half; full product scans get the rest, spaced by what a scan costs (the catalogue's
// pages). Polls give way to other calls beyond the quarter left them. allowance 0 means
// unlimited: every tick polls (intervals 0).
func Plan(allowance int64, c Costs, webhooks, product bool) Pace {
	cs, cp := float64(max(c.Service, 1)), float64(max(c.Product, 1))
	if allowance <= 0 {
		p := Pace{Service: MinInterval, Product: MinInterval}
		p.PerDay = perDay(p, cs, cp, product)
		p.Service, p.Product = 0, 0
		return p
	}
	daily := float64(allowance) / 365
	polls := math.Max(math.Min(PollShare*daily, (1-Headroom)*daily-c.Other), 0)
	left := polls - float64(max(c.Deep, 1)) - float64(max(c.Deletions, 1))
	share := 0.5
	if webhooks {
		share = 0.1
	}
	if !product && !webhooks {
		share = 1
	}
	// Whole polls a day: a day that starts with a poll holds every one of them, so a fraction
	// rounded up would spend a poll more than planned (a 50-page scan, on a tier-1 day).
	servicePolls := clamp(math.Floor(share*left/cs), float64(24*time.Hour/ReconcileBound), float64(24*time.Hour/MinInterval))
	p := Pace{Service: every(servicePolls)}
	// Polls run on the schedule's ticks: an interval between two ticks waits for the later one,
	// so what the service polls really cost is counted at whole ticks, and products get the rest.
	servicePolls = float64(24*time.Hour) / float64(p.Service)
	if product {
		perDay := (left - servicePolls*cs) / cp
		if perDay >= 1 {
			perDay = math.Floor(perDay)
		}
		productPolls := clamp(perDay, float64(24*time.Hour)/float64(MaxProductInterval), float64(24*time.Hour/MinInterval))
		p.Product = every(productPolls)
	}
	p.PerDay = perDay(p, cs, cp, product)
	return p
}

func clamp(v, lo, hi float64) float64 { return math.Min(math.Max(v, lo), hi) }

// every turns polls a day into an interval in whole ticks (rounded up), never faster than one.
func every(perDay float64) time.Duration {
	d := max(time.Duration(float64(24*time.Hour)/perDay), MinInterval)
	if r := d % MinInterval; r != 0 && d < MaxProductInterval {
		d += MinInterval - r
	}
	return d
}

func perDay(p Pace, cs, cp float64, product bool) float64 {
	n := cs * float64(24*time.Hour) / float64(p.Service)
	if product {
		n += cp * float64(24*time.Hour) / float64(p.Product)
	}
	return n
}

// OtherCalls is the calls a day that are not polls, from their count by UTC day: today so far
// and the part of yesterday still within the last 24 hours.
func OtherCalls(today, yesterday int, now time.Time) float64 {
	elapsed := now.Sub(now.UTC().Truncate(24*time.Hour)).Hours() / 24
	return float64(today) + float64(yesterday)*(1-elapsed)
}

// Projected is the yearly use the ledger's days point to: the busier of two whole days' worth
// of calls, yesterday's and the last 24 hours' (OtherCalls' window). A partial day is never
// scaled up: a connection's first minutes after midnight (its setup, a burst of checks) would
// otherwise count as a whole day's pace and flag an overrun that is not there.
func Projected(today, yesterday int, now time.Time) int64 {
	return int64(math.Max(float64(yesterday), OtherCalls(today, yesterday, now)) * 365)
}
