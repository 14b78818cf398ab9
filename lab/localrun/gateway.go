package localrun

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// Gateway is a local API Gateway HTTP API: it turns HTTP requests to the template's HttpApi
// routes into payload-v2 events for the function and writes its response back.
type Gateway struct {
	r      *Runtime
	routes map[string]chan *Function // "POST /helpdesk/events" -> the function's idle instances
	srv    *http.Server
	URL    string
}

// maxPayload is API Gateway's request body limit (10 MB).
const maxPayload = 10 << 20

// StartGateway listens on 127.0.0.1 (port 0: a free one).
func (r *Runtime) StartGateway(port int) (*Gateway, error) {
	g := &Gateway{r: r, routes: map[string]chan *Function{}}
	for _, f := range r.Template.Functions() {
		// Concurrent requests go to idle instances, as Lambda scales a function out; one
		// instance serves one request at a time.
		var idle chan *Function
		for _, ev := range f.Events {
			if ev.Type != "HttpApi" {
				continue
			}
			if idle == nil {
				instances := r.Replicas[f.LogicalID]
				idle = make(chan *Function, len(instances))
				for _, in := range instances {
					idle <- in
				}
			}
			method, _ := ev.Properties["Method"].(string)
			path, _ := ev.Properties["Path"].(string)
			g.routes[strings.ToUpper(method)+" "+path] = idle
		}
	}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return nil, err
	}
	g.URL = "http://" + l.Addr().String()
	g.srv = &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = g.srv.Serve(l) }()
	return g, nil
}

// Close stops the gateway.
func (g *Gateway) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return g.srv.Shutdown(ctx)
}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	routeKey := req.Method + " " + req.URL.Path
	idle, ok := g.routes[routeKey]
	if !ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"message":"Not Found"}`)
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxPayload+1))
	if err != nil || len(body) > maxPayload {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		_, _ = io.WriteString(w, `{"message":"Request Entity Too Large"}`)
		return
	}
	ev := ToEvent(req, routeKey, body)
	payload, _ := json.Marshal(ev)
	// API Gateway lets the integration finish when the caller hangs up; cancelling would also
	// leave RIE busy and make it crash on the next invocation.
	fn := <-idle
	out, err := fn.Invoke(context.WithoutCancel(req.Context()), payload)
	idle <- fn
	if err != nil {
		// What API Gateway answers when the integration fails.
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"message":"Internal Server Error"}`)
		return
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode == 0 {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"message":"Internal Server Error"}`)
		return
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	w.WriteHeader(resp.StatusCode)
	rb := []byte(resp.Body)
	if resp.IsBase64Encoded {
		rb, _ = base64.StdEncoding.DecodeString(resp.Body)
	}
	_, _ = w.Write(rb)
}

// ToEvent builds the payload-v2 event API Gateway sends for req.
func ToEvent(req *http.Request, routeKey string, body []byte) events.APIGatewayV2HTTPRequest {
	headers := map[string]string{}
	var cookies []string
	for k, vs := range req.Header {
		lk := strings.ToLower(k)
		if lk == "cookie" {
			cookies = append(cookies, vs...)
			continue
		}
		headers[lk] = strings.Join(vs, ",")
	}
	if req.Host != "" {
		headers["host"] = req.Host
	}
	query := map[string]string{}
	for k, vs := range req.URL.Query() {
		query[k] = strings.Join(vs, ",")
	}
	now := time.Now()
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: routeKey, RawPath: req.URL.Path, RawQueryString: req.URL.RawQuery,
		Cookies: cookies, Headers: headers, QueryStringParameters: query,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			AccountID: "123456789012", APIID: "local", DomainName: req.Host, Stage: "$default",
			RequestID: strconv.FormatInt(now.UnixNano(), 36), RouteKey: routeKey,
			Time: now.UTC().Format("02/Jan/2006:15:04:05 -0700"), TimeEpoch: now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: req.Method, Path: req.URL.Path, Protocol: req.Proto, SourceIP: hostOnly(req.RemoteAddr), UserAgent: req.UserAgent(),
			},
		},
	}
	if len(body) > 0 {
		if utf8.Valid(body) {
			ev.Body = string(body)
		} else {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
	}
	return ev
}

func hostOnly(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h
}
