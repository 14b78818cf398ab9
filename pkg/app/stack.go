package app

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"

	"github.com/pilotdesk/pilotdesk/pkg/config"
	"github.com/pilotdesk/pilotdesk/pkg/stack"
)

// StackFlag takes --stack NAME (or --stack=NAME) out of the CLI's args, wherever it is.
func StackFlag(args []string) (string, []string) {
	var name string
	var rest []string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--stack" && i+1 < len(args):
			name = args[i+1]
			i++
		case strings.HasPrefix(a, "--stack="):
			name = strings.TrimPrefix(a, "--stack=")
		default:
			rest = append(rest, a)
		}
	}
	return name, rest
}

// CLIEnv is the CLI's environment: the variables set, and the named (or configured) stack's
// outputs for what they leave unset. The stack is read when it is named or when the table or
// queue is not set.
func CLIEnv(ctx context.Context, cfg aws.Config, name string, getenv func(string) string) (func(string) string, error) {
	if name == "" && getenv(config.EnvTableName) != "" && getenv(config.EnvQueueURL) != "" {
		return getenv, nil
	}
	n := stack.Name(name, getenv)
	if n == "" {
		return nil, stack.ErrNoStack
	}
	outputs, err := stack.Env(ctx, cloudformation.NewFromConfig(cfg), n)
	if err != nil {
		return nil, err
	}
	return stack.Getenv(getenv, outputs), nil
}
