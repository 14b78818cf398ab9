package samtemplate

import (
	"fmt"
	"regexp"
	"strings"
)

// Resolver turns intrinsic values into strings for a concrete (local) deployment: references
// to resources resolve to the values the caller created for them.
type Resolver struct {
	T          *Template
	StackName  string
	Region     string
	AccountID  string
	Parameters map[string]string            // overrides of parameter defaults
	Refs       map[string]string            // logical id -> value of !Ref
	Attrs      map[string]map[string]string // logical id -> attribute -> value of !GetAtt
}

var subVar = regexp.MustCompile(`\$\{([^}]+)\}`)

// Resolve returns v as a string.
func (r *Resolver) Resolve(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case int, int64, float64, bool:
		return fmt.Sprint(x), nil
	case map[string]any:
		if ref, ok := x["Ref"]; ok {
			return r.ref(fmt.Sprint(ref))
		}
		if ga, ok := x["Fn::GetAtt"]; ok {
			parts := asSlice(ga)
			if len(parts) != 2 {
				return "", fmt.Errorf("bad Fn::GetAtt %v", ga)
			}
			return r.getAtt(fmt.Sprint(parts[0]), fmt.Sprint(parts[1]))
		}
		if sub, ok := x["Fn::Sub"]; ok {
			s, ok := sub.(string)
			if !ok {
				return "", fmt.Errorf("only the string form of Fn::Sub is supported")
			}
			var firstErr error
			out := subVar.ReplaceAllStringFunc(s, func(m string) string {
				name := m[2 : len(m)-1]
				var val string
				var err error
				if id, attr, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
					val, err = r.getAtt(id, attr)
				} else {
					val, err = r.ref(name)
				}
				if err != nil && firstErr == nil {
					firstErr = err
				}
				return val
			})
			return out, firstErr
		}
	}
	return "", fmt.Errorf("cannot resolve %v", v)
}

func (r *Resolver) ref(name string) (string, error) {
	switch name {
	case "AWS::StackName":
		return r.StackName, nil
	case "AWS::Region":
		return r.Region, nil
	case "AWS::AccountId":
		return r.AccountID, nil
	case "AWS::Partition":
		return "aws", nil
	case "AWS::URLSuffix":
		return "amazonaws.com", nil
	}
	if v, ok := r.Parameters[name]; ok {
		return v, nil
	}
	if _, ok := r.T.Parameters[name]; ok {
		if d, ok := r.T.ParameterDefault(name); ok {
			return d, nil
		}
		return "", fmt.Errorf("parameter %s has no default and no value", name)
	}
	if v, ok := r.Refs[name]; ok {
		return v, nil
	}
	return "", fmt.Errorf("no local value for !Ref %s", name)
}

func (r *Resolver) getAtt(id, attr string) (string, error) {
	if v, ok := r.Attrs[id][attr]; ok {
		return v, nil
	}
	return "", fmt.Errorf("no local value for !GetAtt %s.%s", id, attr)
}

// Environment resolves a function's environment variables.
func (r *Resolver) Environment(f Function) (map[string]string, error) {
	env := make(map[string]string, len(f.Environment))
	for k, v := range f.Environment {
		s, err := r.Resolve(v)
		if err != nil {
			return nil, fmt.Errorf("%s: env %s: %w", f.LogicalID, k, err)
		}
		env[k] = s
	}
	return env, nil
}
