package localaws

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/pilotdesk/pilotdesk/lab/samtemplate"
)

// AWSConfig returns an SDK config that talks to endpoint with the stand-ins' credentials.
func AWSConfig(ctx context.Context, endpoint string) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithRegion(Region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")),
		config.WithBaseEndpoint(endpoint),
	)
	if err != nil {
		return aws.Config{}, fmt.Errorf("aws config: %w", err)
	}
	return cfg, nil
}

// Stack is the template's data resources created on a stand-in.
type Stack struct {
	Name      string
	Endpoint  string
	Template  *samtemplate.Template
	Tables    map[string]string // logical id -> table name
	QueueURLs map[string]string // logical id -> queue URL
	QueueARNs map[string]string
	Secrets   map[string]string // logical id -> secret ARN
	Resolver  *samtemplate.Resolver
}

// CreateStack creates every DynamoDB table, SQS queue and Secrets Manager secret of the
// template on the stand-in at endpoint, named after stackName. Parameters override defaults.
func CreateStack(ctx context.Context, endpoint string, t *samtemplate.Template, stackName string, params map[string]string) (*Stack, error) {
	cfg, err := AWSConfig(ctx, endpoint)
	if err != nil {
		return nil, err
	}
	s := &Stack{
		Name: stackName, Endpoint: endpoint, Template: t,
		Tables: map[string]string{}, QueueURLs: map[string]string{}, QueueARNs: map[string]string{}, Secrets: map[string]string{},
	}
	res := &samtemplate.Resolver{T: t, StackName: stackName, Region: Region, AccountID: AccountID,
		Parameters: params, Refs: map[string]string{}, Attrs: map[string]map[string]string{}}
	s.Resolver = res

	ddb := dynamodb.NewFromConfig(cfg)
	for _, id := range t.ResourcesOfType("AWS::DynamoDB::Table") {
		tb, err := t.Table(id)
		if err != nil {
			return nil, err
		}
		name := stackName + "-" + id
		if err := createTable(ctx, ddb, name, tb); err != nil {
			return nil, err
		}
		s.Tables[id] = name
		res.Refs[id] = name
		arn := fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", Region, AccountID, name)
		res.Attrs[id] = map[string]string{"Arn": arn}
	}

	q := sqs.NewFromConfig(cfg)
	for _, qd := range t.Queues() {
		name := stackName + "-" + qd.LogicalID
		attrs := map[string]string{}
		if qd.VisibilityTimeout > 0 {
			attrs[string(sqstypes.QueueAttributeNameVisibilityTimeout)] = strconv.Itoa(qd.VisibilityTimeout)
		}
		if qd.RetentionSeconds > 0 {
			attrs[string(sqstypes.QueueAttributeNameMessageRetentionPeriod)] = strconv.Itoa(qd.RetentionSeconds)
		}
		if qd.DeadLetterTarget != "" {
			dlqArn, ok := s.QueueARNs[qd.DeadLetterTarget]
			if !ok {
				return nil, fmt.Errorf("queue %s: dead-letter target %s not created", qd.LogicalID, qd.DeadLetterTarget)
			}
			attrs[string(sqstypes.QueueAttributeNameRedrivePolicy)] = fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"%d"}`, dlqArn, qd.MaxReceiveCount)
		}
		out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
		if err != nil {
			return nil, fmt.Errorf("create queue %s: %w", name, err)
		}
		ga, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: out.QueueUrl,
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
		if err != nil {
			return nil, fmt.Errorf("queue %s attributes: %w", name, err)
		}
		arn := ga.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
		s.QueueURLs[qd.LogicalID] = *out.QueueUrl
		s.QueueARNs[qd.LogicalID] = arn
		res.Refs[qd.LogicalID] = *out.QueueUrl
		res.Attrs[qd.LogicalID] = map[string]string{"Arn": arn, "QueueName": name, "QueueUrl": *out.QueueUrl}
	}

	sm := secretsmanager.NewFromConfig(cfg)
	for _, sd := range t.Secrets() {
		name, err := res.Resolve(sd.Name)
		if err != nil {
			return nil, fmt.Errorf("secret %s name: %w", sd.LogicalID, err)
		}
		n := sd.PasswordLength
		if n <= 0 {
			n = 32
		}
		val, err := randomSecret(n)
		if err != nil {
			return nil, err
		}
		out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(val)})
		if err != nil {
			return nil, fmt.Errorf("create secret %s: %w", name, err)
		}
		s.Secrets[sd.LogicalID] = *out.ARN
		res.Refs[sd.LogicalID] = *out.ARN
	}
	return s, nil
}

func randomSecret(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	s := base64.RawURLEncoding.EncodeToString(b)
	// ExcludePunctuation in the template: keep letters and digits only.
	out := make([]byte, 0, n)
	for i := 0; i < len(s) && len(out) < n; i++ {
		if c := s[i]; c != '-' && c != '_' {
			out = append(out, c)
		}
	}
	return string(out), nil
}

func createTable(ctx context.Context, ddb *dynamodb.Client, name string, tb samtemplate.Table) error {
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: ddbtypes.BillingModePayPerRequest,
		KeySchema:   keySchema(tb.HashKey, tb.RangeKey),
	}
	for attr, typ := range tb.Attributes {
		in.AttributeDefinitions = append(in.AttributeDefinitions, ddbtypes.AttributeDefinition{
			AttributeName: aws.String(attr), AttributeType: ddbtypes.ScalarAttributeType(typ)})
	}
	for _, g := range tb.GSIs {
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, ddbtypes.GlobalSecondaryIndex{
			IndexName:  aws.String(g.Name),
			KeySchema:  keySchema(g.HashKey, g.RangeKey),
			Projection: &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionType(g.Projection)},
		})
	}
	if _, err := ddb.CreateTable(ctx, in); err != nil {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	if tb.TTLAttribute != "" {
		if _, err := ddb.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(name),
			TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: aws.String(tb.TTLAttribute), Enabled: aws.Bool(true)}}); err != nil {
			return fmt.Errorf("table %s ttl: %w", name, err)
		}
	}
	return nil
}

func keySchema(hash, rng string) []ddbtypes.KeySchemaElement {
	ks := []ddbtypes.KeySchemaElement{{AttributeName: aws.String(hash), KeyType: ddbtypes.KeyTypeHash}}
	if rng != "" {
		ks = append(ks, ddbtypes.KeySchemaElement{AttributeName: aws.String(rng), KeyType: ddbtypes.KeyTypeRange})
	}
	return ks
}

// RegisterOutputs records a CloudFormation stack named name on the stand-in whose outputs are
// outputs (by output key), so that what finds a deployed stack by its outputs (the CLI's
// --stack) finds the local one the same way. The stack holds no resource of its own.
func RegisterOutputs(ctx context.Context, cfg aws.Config, name string, outputs map[string]string) error {
	t := map[string]any{"Resources": map[string]any{"Holder": map[string]any{"Type": "AWS::CloudFormation::WaitConditionHandle"}}}
	outs := map[string]any{}
	for k, v := range outputs {
		outs[k] = map[string]any{"Value": v}
	}
	t["Outputs"] = outs
	body, _ := json.Marshal(t)
	_, err := cloudformation.NewFromConfig(cfg).CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String(name), TemplateBody: aws.String(string(body))})
	return err
}
