package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"
)

// Parker keeps jobs that wait for a helpdesk account's lease (the store).
type Parker interface {
	ParkJob(ctx context.Context, account, id, body string) error
	TakeParked(ctx context.Context, account string) ([]string, error)
}

// Sender queues jobs.
type Sender interface {
	Send(ctx context.Context, jobs []Job, delay time.Duration) error
}

// Park keeps j beside the account until the lease holder releases it: once per distinct job
// (its body's hash names it), so a duplicate delivery parks nothing new.
func Park(ctx context.Context, p Parker, account string, j Job) error {
	body, err := json.Marshal(j)
	if err != nil {
		return err
	}
	return p.ParkJob(ctx, account, parkID(string(body)), string(body))
}

func parkID(body string) string {
	sum := sha256.Sum256([]byte(body))
	return hex.EncodeToString(sum[:16])
}

// Unpark sends the jobs parked for the account to the queue, now (the one that gets the lease
// runs; the others park again). Jobs it could not send are parked again, never lost. It
// returns how many it sent.
func Unpark(ctx context.Context, p Parker, q Sender, account string) (int, error) {
	bodies, err := p.TakeParked(ctx, account)
	var jobs []Job
	for _, b := range bodies {
		var j Job
		if json.Unmarshal([]byte(b), &j) == nil {
			jobs = append(jobs, j)
		}
	}
	if len(jobs) == 0 {
		return 0, err
	}
	if serr := q.Send(ctx, jobs, 0); serr != nil {
		for _, b := range bodies {
			serr = errors.Join(serr, p.ParkJob(ctx, account, parkID(b), b))
		}
		return 0, errors.Join(err, serr)
	}
	return len(jobs), err
}
