// Package secrets keeps connection credentials in AWS Secrets Manager (one secret per
// connection under the stack's prefix) and reads the webhook's shared secret, caching it per
// container. Secret values never appear in errors or logs.
package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/pilotdesk/pilotdesk/pkg/connection"
	"github.com/pilotdesk/pilotdesk/pkg/errs"
)

// Manager stores and reads secrets.
type Manager struct {
	sm     *secretsmanager.Client
	prefix string

	mu    sync.Mutex
	cache map[string]cached
	ttl   time.Duration
}

type cached struct {
	value string
	at    time.Time
}

// New returns a manager; prefix is CREDENTIALS_SECRET_PREFIX.
func New(sm *secretsmanager.Client, prefix string) *Manager {
	return &Manager{sm: sm, prefix: prefix, cache: map[string]cached{}, ttl: 5 * time.Minute}
}

func (m *Manager) name(connID string) string { return m.prefix + connID }

func classify(op string, err error) error {
	var nf *smtypes.ResourceNotFoundException
	var ise *smtypes.InternalServiceError
	switch {
	case errors.As(err, &nf):
		return errs.E(errs.NotExist, op, errors.New("secret not found"))
	case errors.As(err, &ise), errors.Is(err, context.DeadlineExceeded):
		return errs.E(errs.Transient, op, err)
	}
	// The SDK's error text names the operation and secret id, never the value.
	return errs.E(errs.Other, op, err)
}

// PutConnection creates or updates the connection's credentials.
func (m *Manager) PutConnection(ctx context.Context, connID string, s connection.Secrets) error {
	const op = "secrets.PutConnection"
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	_, err = m.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(m.name(connID)), SecretString: aws.String(string(b))})
	var nf *smtypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		_, err = m.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name: aws.String(m.name(connID)), SecretString: aws.String(string(b)),
			Description: aws.String("Pilotdesk connection " + connID + " credentials"),
		})
	}
	if err != nil {
		return classify(op, err)
	}
	m.mu.Lock()
	delete(m.cache, m.name(connID))
	m.mu.Unlock()
	return nil
}

// Connection returns the connection's credentials.
func (m *Manager) Connection(ctx context.Context, connID string) (connection.Secrets, error) {
	v, err := m.get(ctx, m.name(connID))
	if err != nil {
		return connection.Secrets{}, fmt.Errorf("credentials of connection %s: %w", connID, err)
	}
	var s connection.Secrets
	if err := json.Unmarshal([]byte(v), &s); err != nil {
		return connection.Secrets{}, errs.E(errs.Invalid, "secrets.Connection", fmt.Errorf("connection %s: secret is not valid JSON", connID))
	}
	return s, nil
}

// DeleteConnection removes the connection's credentials at once (no recovery window: an
// operator deleting a connection wants its keys gone).
func (m *Manager) DeleteConnection(ctx context.Context, connID string) error {
	_, err := m.sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(m.name(connID)), ForceDeleteWithoutRecovery: aws.Bool(true)})
	var nf *smtypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		err = nil
	}
	m.mu.Lock()
	delete(m.cache, m.name(connID))
	m.mu.Unlock()
	if err != nil {
		return classify("secrets.DeleteConnection", err)
	}
	return nil
}

// Value returns a plain secret (the webhook's shared secret) by ARN or name, cached for a few
// minutes per container so a rotation is picked up without a redeploy.
func (m *Manager) Value(ctx context.Context, id string) (string, error) { return m.get(ctx, id) }

func (m *Manager) get(ctx context.Context, id string) (string, error) {
	m.mu.Lock()
	c, ok := m.cache[id]
	m.mu.Unlock()
	if ok && time.Since(c.at) < m.ttl {
		return c.value, nil
	}
	out, err := m.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		return "", classify("secrets.get", err)
	}
	v := aws.ToString(out.SecretString)
	m.mu.Lock()
	m.cache[id] = cached{value: v, at: time.Now()}
	m.mu.Unlock()
	return v, nil
}
