// Package stack finds a deployed Pilotdesk stack for the CLI: its name (--stack,
// PILOTDESK_STACK, or samconfig.toml's stack_name) and its CloudFormation outputs, turned into
// the environment the CLI reads, so nothing needs exporting. Variables already set win.
package stack

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
)

// EnvStack names the stack when --stack is not given.
const EnvStack = "PILOTDESK_STACK"

// Outputs maps the template's outputs to the environment variables the CLI reads.
var Outputs = map[string]string{
	"TableName":               "TABLE_NAME",
	"QueueUrl":                "QUEUE_URL",
	"DeadLetterQueueUrl":      "DLQ_URL",
	"CredentialsSecretPrefix": "CREDENTIALS_SECRET_PREFIX",
	"WebhookSecretArn":        "WEBHOOK_SECRET_ARN",
	"ApiUrl":                  "API_URL",
	"HelpdeskRateLimit":       "HELPDESK_RATE_LIMIT",
}

var stackNameRe = regexp.MustCompile(`^\s*stack_name\s*=\s*"([^"]+)"`)

// NameFromSamconfig reads stack_name from a samconfig.toml ("" when the file or the key is
// absent).
func NameFromSamconfig(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := stackNameRe.FindStringSubmatch(sc.Text()); m != nil {
			return m[1]
		}
	}
	return ""
}

// Name picks the stack: the flag, then PILOTDESK_STACK, then samconfig.toml in the working
// directory.
func Name(flag string, getenv func(string) string) string {
	if flag != "" {
		return flag
	}
	if v := strings.TrimSpace(getenv(EnvStack)); v != "" {
		return v
	}
	return NameFromSamconfig("samconfig.toml")
}

// Describer reads a stack (the CloudFormation client).
type Describer interface {
	DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, opts ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
}

// Env returns the environment the stack's outputs give, by variable name.
func Env(ctx context.Context, cf Describer, name string) (map[string]string, error) {
	out, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	if err != nil {
		return nil, fmt.Errorf("stack %q: cannot read its outputs (deployed in this AWS account and region? AWS_REGION, AWS_PROFILE): %w", name, err)
	}
	if len(out.Stacks) == 0 {
		return nil, fmt.Errorf("stack %q not found in this account and region", name)
	}
	env := map[string]string{}
	for _, o := range out.Stacks[0].Outputs {
		if v, ok := Outputs[aws.ToString(o.OutputKey)]; ok {
			env[v] = aws.ToString(o.OutputValue)
		}
	}
	if env["TABLE_NAME"] == "" || env["QUEUE_URL"] == "" {
		return nil, fmt.Errorf("stack %q has no TableName/QueueUrl outputs: is it a Pilotdesk stack?", name)
	}
	return env, nil
}

// ErrNoStack says how to point the CLI at a stack.
var ErrNoStack = errors.New("no stack to read: pass --stack NAME, set " + EnvStack + ", run from the directory holding samconfig.toml, or export TABLE_NAME and QUEUE_URL (the stack's outputs)")

// Getenv is the CLI's environment: a variable set wins, otherwise the stack's output.
func Getenv(getenv func(string) string, outputs map[string]string) func(string) string {
	return func(k string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return outputs[k]
	}
}
